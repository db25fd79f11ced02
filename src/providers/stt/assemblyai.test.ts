import { describe, expect, it } from 'vitest';
import { AssemblyAiStt, type AssemblyAiSttOptions } from './assemblyai.ts';
import { isFatalSttError } from './contract.ts';
import { type AssemblyAiServerOptions, FakeAssemblyAiServer } from './testing/assemblyai-server.ts';
import { waitUntil } from './testing/fake-server.ts';
import {
  FAST_BACKOFF,
  fakeServers,
  feed,
  MemoryLog,
  RecordingListener,
  codedSpeech as speech,
  TEST_VOCABULARY,
} from './testing/harness.ts';

const KEY = 'aai-test-key-0123456789abcdef';
const server = fakeServers<AssemblyAiServerOptions, FakeAssemblyAiServer>(
  (options) => new FakeAssemblyAiServer({ apiKey: KEY, vocabulary: TEST_VOCABULARY, ...options }),
);

function client(url: string, options: Partial<AssemblyAiSttOptions> = {}) {
  return new AssemblyAiStt({
    apiKey: KEY,
    baseUrl: url,
    ...FAST_BACKOFF,
    resultTimeoutMs: 2000,
    maxTurnSilenceMs: 400,
    ...options,
  });
}

describe('AssemblyAiStt against a local Universal-Streaming v3 server', () => {
  it('partial Turns are interims, end_of_turn is the final and an endOfSpeech signal; chunks are 50 ms or more', async () => {
    const s = await server();
    const listener = new RecordingListener();
    const stream = client(s.url).stream(listener);
    const end = feed(stream, speech('hello world how are you', 3000), 5_000);
    await waitUntil(() => listener.finals.length === 1, 10_000, 'the final');
    expect(listener.text).toBe('hello world how are you');
    expect(listener.interims.map((i) => i.text)).toContain('hello world');
    const final = listener.finals[0];
    expect(final.startMs).toBeGreaterThanOrEqual(5_000);
    expect(final.endMs).toBeLessThanOrEqual(end);
    expect(listener.speechEvents.map((e) => e.type)).toEqual(['speechStarted', 'endOfSpeech']);
    expect(listener.speechEvents[1].atMs).toBe(final.endMs);
    const q = Object.fromEntries(s.records[0].query);
    expect(q).toMatchObject({
      sample_rate: '16000',
      encoding: 'pcm_s16le',
      speech_model: 'universal-streaming-english',
      max_turn_silence: '400',
    });
    expect(Math.min(...s.records[0].chunkMs)).toBeGreaterThanOrEqual(50);
    stream.close();
    await waitUntil(() => s.records[0].control.some((c) => c.includes('Terminate')), 5_000, 'Terminate');
    expect(listener.errors).toEqual([]);
  });

  it('a flush sends ForceEndpoint and is answered by the turn it ends; a flush over silence is answered at once', async () => {
    const s = await server();
    const listener = new RecordingListener();
    const stream = client(s.url, { maxTurnSilenceMs: 5000 }).stream(listener);
    feed(stream, speech('fine thanks', 1000), 0);
    await waitUntil(() => listener.interims.some((i) => i.text === 'fine thanks'), 10_000, 'the interim');
    stream.flush();
    await waitUntil(() => listener.finals.length === 1, 10_000, 'the final');
    expect(listener.finals[0].text).toBe('fine thanks');
    expect(s.records[0].control).toEqual(['{"type":"ForceEndpoint"}']);
    stream.flush();
    await waitUntil(() => listener.finals.length === 2, 5_000, 'the local answer');
    expect(listener.finals[1].text).toBe('');
    stream.close();
  });

  it('a bad key closes with 1008: fatal at once, the key in no error', async () => {
    const s = await server();
    const listener = new RecordingListener();
    const stream = new AssemblyAiStt({ apiKey: 'wrong-key-000000', baseUrl: s.url, ...FAST_BACKOFF }).stream(
      listener,
    );
    feed(stream, speech('hello', 500), 0);
    await waitUntil(() => listener.errors.length > 0, 10_000, 'the error');
    expect(isFatalSttError(listener.errors.at(-1))).toBe(true);
    expect(listener.errors.map(String).join()).not.toContain('wrong-key-000000');
    stream.close();
  });

  it('429 with retry-after is waited for, then transcribes', async () => {
    const s = await server({
      connections: [
        { reject: { status: 429, headers: { 'retry-after': '0.05' }, body: '{"error":"Too many"}' } },
      ],
    });
    const listener = new RecordingListener();
    const stream = client(s.url).stream(listener);
    feed(stream, speech('hello world', 1500), 0);
    await waitUntil(() => listener.finals.length === 1, 10_000, 'the final');
    expect(listener.text).toBe('hello world');
    expect(s.connectionAttempts).toBe(2);
    stream.close();
  });

  it('a drop mid-turn loses no word: the audio without a final is replayed on a new connection', async () => {
    const s = await server({ connections: [{ dropAfterWords: 2 }] });
    const log = new MemoryLog();
    const listener = new RecordingListener();
    const stream = client(s.url, { log }).stream(listener);
    feed(stream, speech('hello world how are you', 3000), 0);
    await waitUntil(() => listener.finals.length === 1, 10_000, 'the final');
    expect(listener.text).toBe('hello world how are you');
    expect(s.connectionAttempts).toBe(2);
    expect(log.count('stt reconnected; replaying unfinalised audio')).toBe(1);
    stream.close();
  });

  it('malformed messages are reported; the stream carries on; a slow first result is waited for', async () => {
    const s = await server({
      connections: [
        {
          junkFirst: ['not json', '{"type":"Turn","turn_order":"x"}', '{"type":"SomethingNew"}'],
          firstResultDelayMs: 300,
        },
      ],
    });
    const listener = new RecordingListener();
    const stream = client(s.url).stream(listener);
    feed(stream, speech('fine thanks', 1500), 0);
    await waitUntil(() => listener.finals.length === 1, 10_000, 'the final');
    expect(listener.text).toBe('fine thanks');
    expect(listener.errors.length).toBeGreaterThanOrEqual(1);
    expect(listener.errors.some((e) => isFatalSttError(e))).toBe(false);
    stream.close();
  });

  it('connection refused is retried, then fatal', async () => {
    const listener = new RecordingListener();
    const stream = client('ws://127.0.0.1:1', { maxRetries: 1 }).stream(listener);
    feed(stream, speech('hello', 500), 0);
    await waitUntil(() => listener.errors.some(isFatalSttError), 10_000, 'the fatal error');
    expect(String(listener.errors.at(-1))).toMatch(/ECONNREFUSED|refused/);
    stream.close();
  });
});
