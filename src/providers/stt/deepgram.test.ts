import { describe, expect, it } from 'vitest';
import { silence } from '../../audio/frame.ts';
import { isFatalSttError } from './contract.ts';
import { DeepgramStt, type DeepgramSttOptions } from './deepgram.ts';
import { encodeWords, spacedWords } from './testing/coded-speech.ts';
import { type DeepgramServerOptions, FakeDeepgramServer } from './testing/deepgram-server.ts';
import { waitUntil } from './testing/fake-server.ts';
import {
  FAST_BACKOFF,
  fakeServers,
  feed,
  MemoryLog,
  RecordingClock,
  RecordingListener,
  codedSpeech as speech,
  TEST_VOCABULARY,
} from './testing/harness.ts';

const KEY = 'dg-test-key-0123456789abcdef';
const server = fakeServers<DeepgramServerOptions, FakeDeepgramServer>(
  (options) => new FakeDeepgramServer({ apiKey: KEY, vocabulary: TEST_VOCABULARY, ...options }),
);

function client(url: string, options: Partial<DeepgramSttOptions> = {}) {
  return new DeepgramStt({ apiKey: KEY, baseUrl: url, ...FAST_BACKOFF, resultTimeoutMs: 2000, ...options });
}

describe('DeepgramStt against a local Deepgram-protocol server', () => {
  it('streams interims and a final on session-clock times, with the documented query and auth', async () => {
    const s = await server();
    const listener = new RecordingListener();
    const stream = client(s.url, { endpointingMs: false }).stream(listener, { language: 'en-US' });
    const end = feed(stream, speech('hello world how are you', 2000), 5_000);
    stream.flush();
    await waitUntil(() => listener.finals.length === 1, 10_000, 'the final');
    expect(listener.text).toBe('hello world how are you');
    expect(listener.interims.map((i) => i.text)).toContain('hello world');
    const final = listener.finals[0];
    expect(final.startMs).toBeGreaterThanOrEqual(5_000);
    expect(final.endMs).toBeLessThanOrEqual(end);
    expect(listener.speechEvents[0]).toEqual({ type: 'speechStarted', atMs: 5_100 });
    const q = s.records[0].query;
    expect(Object.fromEntries(q)).toMatchObject({
      model: 'nova-3',
      encoding: 'linear16',
      sample_rate: '16000',
      channels: '1',
      interim_results: 'true',
      vad_events: 'true',
      endpointing: 'false',
      language: 'en-US',
    });
    expect(s.records[0].audioBytes).toBe(2000 * 32);
    expect(s.records[0].control).toEqual(['Finalize']);
    stream.close();
    await waitUntil(() => s.records[0].control.includes('CloseStream'), 5_000, 'CloseStream');
    expect(listener.errors).toEqual([]);
  });

  it('endpointing finals and UtteranceEnd come through as finals and speech events', async () => {
    const s = await server();
    const listener = new RecordingListener();
    const stream = client(s.url, { endpointingMs: 300, utteranceEndMs: 1000 }).stream(listener);
    feed(stream, speech('fine thanks', 2000), 0);
    await waitUntil(
      () => listener.speechEvents.some((e) => e.type === 'utteranceEnd'),
      10_000,
      'UtteranceEnd',
    );
    expect(listener.text).toBe('fine thanks');
    expect(listener.speechEvents.map((e) => e.type)).toEqual([
      'speechStarted',
      'endOfSpeech',
      'utteranceEnd',
    ]);
    // A flush after everything is final is answered at once, with nothing new.
    stream.flush();
    await waitUntil(() => listener.finals.length === 2, 5_000, 'the flush answer');
    expect(listener.finals[1].text).toBe('');
    stream.close();
  });

  it('a rejected key is fatal at once, and the key is in no error', async () => {
    const s = await server();
    const listener = new RecordingListener();
    const stream = new DeepgramStt({ apiKey: 'wrong-key-abcdefgh', baseUrl: s.url }).stream(listener);
    await waitUntil(() => listener.errors.length > 0, 5_000, 'the error');
    expect(isFatalSttError(listener.errors[0])).toBe(true);
    expect(listener.errors[0].message).toContain('401');
    expect(listener.errors[0].message).toContain('Invalid credentials');
    expect(listener.errors[0].message).not.toContain('wrong-key-abcdefgh');
    expect(s.connectionAttempts).toBe(1);
    stream.close();
  });

  it('honours Retry-After on a 429 and then transcribes', async () => {
    const s = await server({
      connections: [
        { reject: { status: 429, headers: { 'retry-after': '1' }, body: '{"err_msg":"slow down"}' } },
      ],
    });
    const clock = new RecordingClock((ms) => (ms === 1000 ? 10 : ms));
    const log = new MemoryLog();
    const listener = new RecordingListener();
    const stream = client(s.url, { clock, log, endpointingMs: false }).stream(listener);
    feed(stream, speech('how are you', 1500), 0);
    stream.flush();
    await waitUntil(() => listener.finals.length === 1, 10_000, 'the final');
    expect(listener.text).toBe('how are you');
    expect(clock.delays).toContain(1000);
    expect(s.connectionAttempts).toBe(2);
    expect(log.count('stt connection failed; reconnecting')).toBe(1);
    expect(log.text).toContain('429');
    expect(listener.errors).toEqual([]);
    stream.close();
  });

  it('a drop mid-utterance loses no word: the unfinalised audio is replayed on a new connection', async () => {
    const s = await server({ connections: [{ dropAfterWords: 2 }] });
    const log = new MemoryLog();
    const listener = new RecordingListener();
    const stream = client(s.url, { log, endpointingMs: false }).stream(listener);
    const words = spacedWords('hello world how are you', 100);
    const audio = encodeWords(TEST_VOCABULARY, words, 2000);
    // The first 900 ms hold "hello world" and part of "how": the server drops once it has heard two words.
    const t = feed(stream, audio.subarray(0, 900 * 16), 0);
    await waitUntil(() => s.records.length === 2, 10_000, 'the reconnection');
    feed(stream, audio.subarray(900 * 16), t);
    stream.flush();
    await waitUntil(() => listener.finals.length === 1, 10_000, 'the final');
    expect(listener.text).toBe('hello world how are you');
    expect(s.records[0].wordsHeard).toEqual(['hello', 'world']);
    expect(s.records[1].wordsHeard).toEqual(['hello', 'world', 'how', 'are', 'you']);
    expect(log.count('stt reconnected; replaying unfinalised audio')).toBe(1);
    expect(listener.errors).toEqual([]);
    stream.close();
  });

  it('after a drop only audio without a final is replayed, so nothing is transcribed twice', async () => {
    const s = await server({ connections: [{ dropAfterWords: 3 }] });
    const listener = new RecordingListener();
    const stream = client(s.url, { endpointingMs: false }).stream(listener);
    let t = feed(stream, speech('fine thanks', 800), 0);
    stream.flush();
    await waitUntil(() => listener.finals.length === 1, 10_000, 'the first final');
    t = feed(stream, speech('how are you', 1100), t);
    await waitUntil(() => s.records.length === 2, 10_000, 'the reconnection');
    t = feed(stream, silence(600), t);
    stream.flush();
    await waitUntil(() => listener.finals.length === 2, 10_000, 'the second final');
    expect(listener.finals.map((f) => f.text)).toEqual(['fine thanks', 'how are you']);
    expect(s.records[1].wordsHeard).toEqual(['how', 'are', 'you']);
    stream.close();
  });

  it('a slow first result is waited for; a silent connection is replaced', async () => {
    const slow = await server({ connections: [{ firstResultDelayMs: 400 }] });
    const a = new RecordingListener();
    const first = client(slow.url, { endpointingMs: false, resultTimeoutMs: 3000 }).stream(a);
    feed(first, speech('bye', 600), 0);
    first.flush();
    await waitUntil(() => a.finals.length === 1, 10_000, 'the slow final');
    expect(a.text).toBe('bye');
    expect(slow.connectionAttempts).toBe(1);
    first.close();

    const stalled = await server({ connections: [{ silent: true }] });
    const b = new RecordingListener();
    const second = client(stalled.url, { endpointingMs: false, resultTimeoutMs: 300 }).stream(b);
    feed(second, speech('bye', 600), 0);
    second.flush();
    await waitUntil(() => b.finals.length === 1, 10_000, 'the final after the stall');
    expect(b.text).toBe('bye');
    expect(stalled.connectionAttempts).toBe(2);
    second.close();
  });

  it('malformed messages are reported and skipped; transcription carries on', async () => {
    const s = await server({
      connections: [
        { junkFirst: ['not json', '{"type":"Results","channel":42}', '{"type":"SomethingNew"}'] },
      ],
    });
    const listener = new RecordingListener();
    const stream = client(s.url, { endpointingMs: false }).stream(listener);
    feed(stream, speech('hello you', 1000), 0);
    stream.flush();
    await waitUntil(() => listener.finals.length === 1, 10_000, 'the final');
    expect(listener.text).toBe('hello you');
    expect(listener.errors).toHaveLength(2);
    expect(listener.errors.every((e) => !isFatalSttError(e))).toBe(true);
    expect(listener.errors[0].message).toMatch(/malformed JSON/);
    expect(listener.errors[1].message).toMatch(/unexpected Results/);
    stream.close();
  });

  it('close 1011 is retried; close 1008 (bad audio) is fatal', async () => {
    const retried = await server({
      connections: [{ closeAfterWords: { words: 1, code: 1011, reason: 'NET-0001' } }],
    });
    const a = new RecordingListener();
    const first = client(retried.url, { endpointingMs: false }).stream(a);
    feed(first, speech('hello world', 900), 0);
    first.flush();
    await waitUntil(() => a.finals.length === 1, 10_000, 'the final');
    expect(a.text).toBe('hello world');
    first.close();

    const fatal = await server({
      connections: [{ closeAfterWords: { words: 1, code: 1008, reason: 'DATA-0000' } }],
    });
    const b = new RecordingListener();
    const second = client(fatal.url).stream(b);
    feed(second, speech('hello world', 900), 0);
    await waitUntil(() => b.errors.length > 0, 10_000, 'the error');
    expect(isFatalSttError(b.errors[0])).toBe(true);
    expect(b.errors[0].message).toContain('1008');
    expect(fatal.connectionAttempts).toBe(1);
    second.close();
  });

  it('gives up after maxRetries when every attempt fails, with one fatal error', async () => {
    const s = await server({ connections: Array(10).fill({ reject: { status: 503, body: '{}' } }) });
    const listener = new RecordingListener();
    const stream = client(s.url, { maxRetries: 3 }).stream(listener);
    await waitUntil(() => listener.errors.length > 0, 10_000, 'giving up');
    expect(s.connectionAttempts).toBe(4);
    expect(listener.errors).toHaveLength(1);
    expect(isFatalSttError(listener.errors[0])).toBe(true);
    expect(listener.errors[0].message).toMatch(/gave up after 4 attempts.*503/);
    stream.close();
  });

  it('connection refused is retried, then reported as fatal', async () => {
    const s = await server();
    const url = s.url;
    await s.close();
    const listener = new RecordingListener();
    const log = new MemoryLog();
    const stream = client(url, { maxRetries: 2, log }).stream(listener);
    await waitUntil(() => listener.errors.length > 0, 10_000, 'giving up');
    expect(listener.errors[0].message).toMatch(/ECONNREFUSED/);
    expect(log.count('stt connection failed; reconnecting')).toBe(2);
    stream.close();
  });

  it('sends KeepAlive while no audio flows', async () => {
    const s = await server();
    const stream = client(s.url, { keepAliveIntervalMs: 30 }).stream(new RecordingListener());
    await waitUntil(
      () => s.records[0]?.control.filter((c) => c === 'KeepAlive').length >= 2,
      5_000,
      'keep-alives',
    );
    stream.close();
  });
});
