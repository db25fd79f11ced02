import { describe, expect, it } from 'vitest';
import { silence } from '../../audio/frame.ts';
import { isFatalSttError } from './contract.ts';
import { OpenAiRealtimeStt, type OpenAiRealtimeSttOptions } from './openai-realtime.ts';
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
import { FakeOpenAiRealtimeServer, type RealtimeServerOptions } from './testing/openai-realtime-server.ts';

const KEY = 'sk-test-0123456789abcdef';
const server = fakeServers<RealtimeServerOptions, FakeOpenAiRealtimeServer>(
  (options) => new FakeOpenAiRealtimeServer({ apiKey: KEY, vocabulary: TEST_VOCABULARY, ...options }),
);

function client(url: string, options: Partial<OpenAiRealtimeSttOptions> = {}) {
  return new OpenAiRealtimeStt({
    apiKey: KEY,
    baseUrl: url,
    ...FAST_BACKOFF,
    resultTimeoutMs: 2000,
    ...options,
  });
}

describe('OpenAiRealtimeStt against a local realtime-transcription server', () => {
  it('configures a transcription session, streams 24 kHz audio, and turns deltas into interims and a final', async () => {
    const s = await server();
    const listener = new RecordingListener();
    const stream = client(s.url).stream(listener, { language: 'en-US' });
    let t = feed(stream, silence(3000), 10_000);
    t = feed(stream, speech('hello world how are you', 2000), t);
    stream.flush();
    await waitUntil(() => listener.finals.length === 1, 10_000, 'the final');
    expect(listener.text).toBe('hello world how are you');
    expect(listener.interims.map((i) => i.text)).toEqual([
      'hello',
      'hello world',
      'hello world how',
      'hello world how are',
      'hello world how are you',
    ]);
    const record = s.records[0];
    expect(record.errors).toEqual([]);
    expect(record.session).toMatchObject({
      type: 'session.update',
      session: {
        type: 'transcription',
        audio: {
          input: {
            format: { type: 'audio/pcm', rate: 24_000 },
            transcription: { model: 'gpt-4o-mini-transcribe', language: 'en' },
            turn_detection: null,
          },
        },
      },
    });
    // The 3 s of silence before the utterance stayed home, but for the pre-roll.
    expect(record.audioMs).toBeGreaterThan(2000);
    expect(record.audioMs).toBeLessThan(2000 + 400);
    const final = listener.finals[0];
    expect(final.startMs).toBeGreaterThanOrEqual(10_000 + 3000 - 300 - 20);
    expect(final.endMs).toBe(t);
    stream.close();
  });

  it('speaks the beta protocol when asked', async () => {
    const s = await server();
    const listener = new RecordingListener();
    const stream = client(s.url, { protocol: 'beta', model: 'gpt-4o-transcribe' }).stream(listener);
    feed(stream, speech('fine thanks', 1000), 0);
    stream.flush();
    await waitUntil(() => listener.finals.length === 1, 10_000, 'the final');
    expect(listener.text).toBe('fine thanks');
    expect(s.records[0].beta).toBe(true);
    expect(s.records[0].session?.type).toBe('transcription_session.update');
    expect(s.records[0].errors).toEqual([]);
    stream.close();
  });

  it('a rejected key is fatal, and no part of a key reaches the error', async () => {
    const s = await server();
    const listener = new RecordingListener();
    const stream = new OpenAiRealtimeStt({ apiKey: 'sk-wrong-9876543210', baseUrl: s.url }).stream(listener);
    await waitUntil(() => listener.errors.length > 0, 5_000, 'the error');
    const error = listener.errors[0];
    expect(isFatalSttError(error)).toBe(true);
    expect(error.message).toMatch(/401.*Incorrect API key provided: sk-\*\*\*/);
    expect(error.message).not.toMatch(/9876|3210|wrong/);
    expect(s.connectionAttempts).toBe(1);
    stream.close();
  });

  it('a refused session configuration (unknown model) is fatal, not retried', async () => {
    const s = await server();
    const listener = new RecordingListener();
    const stream = client(s.url, { model: 'gpt-nonexistent' }).stream(listener);
    await waitUntil(() => listener.errors.length > 0, 5_000, 'the error');
    expect(isFatalSttError(listener.errors[0])).toBe(true);
    expect(listener.errors[0].message).toMatch(/refused the session.*invalid_value/);
    expect(s.connectionAttempts).toBe(1);
    stream.close();
  });

  it('honours Retry-After on a 429', async () => {
    const s = await server({ connections: [{ reject: { status: 429, headers: { 'retry-after': '7' } } }] });
    // Only the 7 s the server asked for is shortened (no other timer of the client is 7 s long).
    const clock = new RecordingClock((ms) => (ms === 7000 ? 10 : ms));
    const listener = new RecordingListener();
    const stream = client(s.url, { clock }).stream(listener);
    feed(stream, speech('bye', 600), 0);
    stream.flush();
    await waitUntil(() => listener.finals.length === 1, 10_000, 'the final');
    expect(listener.text).toBe('bye');
    expect(clock.delays).toContain(7000);
    expect(s.connectionAttempts).toBe(2);
    stream.close();
  });

  it('a drop mid-utterance loses no word', async () => {
    const s = await server({ connections: [{ dropAfterAudioMs: 700 }] });
    const listener = new RecordingListener();
    const stream = client(s.url).stream(listener);
    const audio = speech('hello world how are you', 2000);
    const t = feed(stream, audio.subarray(0, 1000 * 16), 0);
    await waitUntil(() => s.records.length === 2, 10_000, 'the reconnection');
    feed(stream, audio.subarray(1000 * 16), t);
    stream.flush();
    await waitUntil(() => listener.finals.length === 1, 10_000, 'the final');
    expect(listener.text).toBe('hello world how are you');
    expect(listener.errors).toEqual([]);
    stream.close();
  });

  it('a drop between commit and transcript re-commits the utterance on the new connection', async () => {
    const s = await server({ connections: [{ dropOnCommit: 2 }] });
    const log = new MemoryLog();
    const listener = new RecordingListener();
    const stream = client(s.url, { log }).stream(listener);
    let t = feed(stream, speech('fine thanks', 800), 0);
    stream.flush();
    await waitUntil(() => listener.finals.length === 1, 10_000, 'the first final');
    t = feed(stream, speech('how are you', 1100), t);
    stream.flush();
    await waitUntil(() => listener.finals.length === 2, 10_000, 'the second final');
    expect(listener.finals.map((f) => f.text)).toEqual(['fine thanks', 'how are you']);
    expect(s.records[1].transcripts).toEqual(['how are you']);
    expect(log.count('stt reconnected; replaying unfinalised audio')).toBe(1);
    stream.close();
  });

  it('a server_error event makes it reconnect and replay', async () => {
    const s = await server({ connections: [{ serverErrorOnCommit: 1 }] });
    const listener = new RecordingListener();
    const stream = client(s.url).stream(listener);
    feed(stream, speech('hello you', 900), 0);
    stream.flush();
    await waitUntil(() => listener.finals.length === 1, 10_000, 'the final');
    expect(listener.text).toBe('hello you');
    expect(s.connectionAttempts).toBe(2);
    stream.close();
  });

  it('a slow first result is waited for; a silent connection is replaced', async () => {
    const slow = await server({ connections: [{ firstResultDelayMs: 400 }] });
    const a = new RecordingListener();
    const first = client(slow.url, { resultTimeoutMs: 3000 }).stream(a);
    feed(first, speech('bye', 600), 0);
    first.flush();
    await waitUntil(() => a.finals.length === 1, 10_000, 'the slow final');
    expect(a.text).toBe('bye');
    expect(slow.connectionAttempts).toBe(1);
    first.close();

    const stalled = await server({ connections: [{ silent: true }] });
    const b = new RecordingListener();
    const second = client(stalled.url, { resultTimeoutMs: 300 }).stream(b);
    feed(second, speech('bye', 600), 0);
    second.flush();
    await waitUntil(() => b.finals.length === 1, 10_000, 'the final after the stall');
    expect(b.text).toBe('bye');
    expect(stalled.connectionAttempts).toBe(2);
    second.close();
  });

  it('malformed events are reported and skipped', async () => {
    const s = await server({
      connections: [
        {
          junkFirst: [
            '{{{',
            '{"no_type":1}',
            '{"type":"conversation.item.input_audio_transcription.completed","item_id":7}',
            '{"type":"rate_limits.updated","rate_limits":[]}',
          ],
        },
      ],
    });
    const listener = new RecordingListener();
    const stream = client(s.url).stream(listener);
    feed(stream, speech('how are you', 1200), 0);
    stream.flush();
    await waitUntil(() => listener.finals.length === 1, 10_000, 'the final');
    expect(listener.text).toBe('how are you');
    expect(listener.errors.map((e) => e.message)).toEqual([
      expect.stringMatching(/malformed JSON/),
      expect.stringMatching(/without a type/),
      expect.stringMatching(/unexpected conversation.item.input_audio_transcription.completed/),
    ]);
    expect(listener.errors.some(isFatalSttError)).toBe(false);
    stream.close();
  });

  it('a flush with too little audio is settled locally with an empty final, never a refused commit', async () => {
    const s = await server();
    const listener = new RecordingListener();
    const stream = client(s.url, { silenceGateDbfs: null }).stream(listener);
    await waitUntil(() => s.records[0]?.session !== undefined, 5_000, 'the session');
    feed(stream, silence(60), 0);
    stream.flush();
    await waitUntil(() => listener.finals.length === 1, 5_000, 'the final');
    expect(listener.finals[0].text).toBe('');
    feed(stream, speech('bye', 600), 60);
    stream.flush();
    await waitUntil(() => listener.finals.length === 2, 10_000, 'the second final');
    expect(listener.finals[1].text).toBe('bye');
    expect(s.records[0].errors).toEqual([]);
    expect(s.records[0].commits).toBe(1);
    stream.close();
  });
});
