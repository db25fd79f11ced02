import { describe, expect, it } from 'vitest';
import { silence } from '../../audio/frame.ts';
import { CloudSttError } from './cloud-errors.ts';
import { isFatalSttError } from './contract.ts';
import { OpenAiBatchStt, type OpenAiBatchSttOptions } from './openai-batch.ts';
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
import {
  FakeOpenAiTranscriptionsServer,
  type TranscriptionsServerOptions,
} from './testing/openai-transcriptions-server.ts';

const KEY = 'sk-test-batch-0123456789';
const server = fakeServers<TranscriptionsServerOptions, FakeOpenAiTranscriptionsServer>(
  (options) => new FakeOpenAiTranscriptionsServer({ apiKey: KEY, vocabulary: TEST_VOCABULARY, ...options }),
);

function client(url: string, options: Partial<OpenAiBatchSttOptions> = {}) {
  return new OpenAiBatchStt({ apiKey: KEY, baseUrl: url, ...FAST_BACKOFF, ...options });
}

describe('OpenAiBatchStt against a local /v1/audio/transcriptions server', () => {
  it('uploads each utterance as a WAV and emits the answer as the final', async () => {
    const s = await server();
    const listener = new RecordingListener();
    const stream = client(s.url, { model: 'gpt-4o-transcribe' }).stream(listener, { language: 'en-GB' });
    let t = feed(stream, silence(2000), 0);
    const speechStart = t;
    t = feed(stream, speech('hello world how are you', 2000), t);
    stream.flush();
    t = feed(stream, speech('fine thanks', 900), t);
    stream.flush();
    await waitUntil(() => listener.finals.length === 2, 10_000, 'two finals');
    expect(listener.finals.map((f) => f.text)).toEqual(['hello world how are you', 'fine thanks']);
    expect(s.records[0]).toMatchObject({
      model: 'gpt-4o-transcribe',
      language: 'en',
      responseFormat: 'json',
      sampleRate: 16_000,
      status: 200,
    });
    // The silence before the first utterance was not uploaded, but for the pre-roll.
    expect(s.records[0].audioMs).toBeLessThanOrEqual(2000 + 300 + 20);
    expect(listener.finals[0].startMs).toBeGreaterThanOrEqual(speechStart - 300 - 20);
    expect(listener.finals[1].endMs).toBe(t);
    expect(listener.errors).toEqual([]);
    stream.close();
  });

  it('a flush with nothing above the silence gate settles at once, without a request', async () => {
    const s = await server();
    const listener = new RecordingListener();
    const stream = client(s.url).stream(listener);
    feed(stream, silence(1500), 0);
    stream.flush();
    await waitUntil(() => listener.finals.length === 1, 5_000, 'the final');
    expect(listener.finals[0].text).toBe('');
    expect(s.records).toHaveLength(0);
    stream.close();
  });

  it('prewarm checks the key and the model', async () => {
    const s = await server();
    await client(s.url).prewarm();
    expect(s.modelLookups).toBe(1);
    await expect(client(s.url, { model: 'whisper-9' }).prewarm()).rejects.toThrow(/404/);
    const bad = client(s.url, { apiKey: 'sk-nope-abcdefghij' }).prewarm();
    await expect(bad).rejects.toBeInstanceOf(CloudSttError);
    await expect(bad).rejects.toMatchObject({ kind: 'auth' });
  });

  it('honours Retry-After on a 429, and retries a 500 and a dropped connection', async () => {
    const s = await server({
      requests: [
        { reject: { status: 429, headers: { 'retry-after': '1' } } },
        { reject: { status: 500 } },
        { drop: true },
      ],
    });
    const clock = new RecordingClock((ms) => (ms === 1000 ? 10 : ms));
    const log = new MemoryLog();
    const listener = new RecordingListener();
    const stream = client(s.url, { clock, log }).stream(listener);
    feed(stream, speech('how are you', 1200), 0);
    stream.flush();
    await waitUntil(() => listener.finals.length === 1, 10_000, 'the final');
    expect(listener.text).toBe('how are you');
    expect(s.records.map((r) => r.status)).toEqual([429, 500, -1, 200]);
    expect(clock.delays[0]).toBe(1000);
    expect(log.count('stt request failed; retrying')).toBe(3);
    expect(listener.errors).toEqual([]);
    stream.close();
  });

  it('waits out a slow first byte within the request timeout', async () => {
    const s = await server({ requests: [{ delayMs: 300 }] });
    const listener = new RecordingListener();
    const stream = client(s.url, { requestTimeoutMs: 5_000 }).stream(listener);
    feed(stream, speech('bye', 600), 0);
    stream.flush();
    await waitUntil(() => listener.finals.length === 1, 10_000, 'the final');
    expect(listener.text).toBe('bye');
    expect(s.records).toHaveLength(1);
    stream.close();
  });

  it('a request past its timeout is retried', async () => {
    const s = await server({ requests: [{ delayMs: 1500 }] });
    const listener = new RecordingListener();
    const stream = client(s.url, { requestTimeoutMs: 300 }).stream(listener);
    feed(stream, speech('bye', 600), 0);
    stream.flush();
    await waitUntil(() => listener.finals.length === 1, 10_000, 'the final');
    expect(listener.text).toBe('bye');
    stream.close();
  });

  it('a rejected key is fatal at once and redacted', async () => {
    const s = await server();
    const listener = new RecordingListener();
    const stream = client(s.url, { apiKey: 'sk-wrong-abcdefghijkl' }).stream(listener);
    feed(stream, speech('bye', 600), 0);
    stream.flush();
    await waitUntil(() => listener.errors.length > 0, 10_000, 'the error');
    expect(isFatalSttError(listener.errors[0])).toBe(true);
    expect(listener.errors[0].message).toContain('401');
    expect(listener.errors[0].message).not.toContain('abcdefghijkl');
    expect(listener.finals).toEqual([]);
    stream.close();
  });

  it('gives up after maxRetries, once; connection refused likewise', async () => {
    const s = await server({ requests: Array(10).fill({ reject: { status: 503 } }) });
    const listener = new RecordingListener();
    const stream = client(s.url, { maxRetries: 2 }).stream(listener);
    feed(stream, speech('bye', 600), 0);
    stream.flush();
    await waitUntil(() => listener.errors.length > 0, 10_000, 'giving up');
    expect(s.records).toHaveLength(3);
    expect(listener.errors[0].message).toMatch(/gave up after 3 attempts.*503/);
    stream.close();

    const url = s.url;
    await s.close();
    const refused = new RecordingListener();
    const second = client(url, { maxRetries: 1 }).stream(refused);
    feed(second, speech('bye', 600), 0);
    second.flush();
    await waitUntil(() => refused.errors.length > 0, 10_000, 'giving up');
    expect(isFatalSttError(refused.errors[0])).toBe(true);
    expect(refused.errors[0].message).toMatch(/ECONNREFUSED|Connection error/);
    second.close();
  });
});
