import { afterEach, describe, expect, it } from 'vitest';
import { PIPELINE_SAMPLE_RATE, samplesForMs, silence } from '../../audio/frame.ts';
import { VirtualClock } from '../../metrics/clock.ts';
import { CloudSttError } from './cloud-errors.ts';
import type { STT, SttListener, SttStream } from './contract.ts';
import { DeepgramStt } from './deepgram.ts';
import { FallbackStt } from './fallback.ts';
import { OpenAiBatchStt } from './openai-batch.ts';
import { ScriptedStt, wordsBetween } from './scripted.ts';
import { FakeDeepgramServer } from './testing/deepgram-server.ts';
import { waitUntil } from './testing/fake-server.ts';
import { codedSpeech, feed, MemoryLog, RecordingListener, TEST_VOCABULARY } from './testing/harness.ts';
import { FakeOpenAiTranscriptionsServer } from './testing/openai-transcriptions-server.ts';

const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

/** An STT whose streams fail for good on demand. */
class BreakableStt implements STT {
  readonly name = 'breakable';
  readonly streams: { listener: SttListener; frames: number; flushes: number; closed: boolean }[] = [];
  stream(listener: SttListener): SttStream {
    const record = { listener, frames: 0, flushes: 0, closed: false };
    this.streams.push(record);
    return {
      push: () => {
        record.frames++;
      },
      flush: () => {
        record.flushes++;
      },
      close: () => {
        record.closed = true;
      },
    };
  }
  breakAll(): void {
    for (const s of this.streams)
      s.listener.onError?.(new CloudSttError('server', 'broken', { fatal: true }));
  }
}

function frames(ms: number, startMs: number) {
  const out = [];
  const n = samplesForMs(20, PIPELINE_SAMPLE_RATE);
  for (let t = startMs; t < startMs + ms; t += 20)
    out.push({ samples: new Int16Array(n), sampleRate: PIPELINE_SAMPLE_RATE, timestampMs: t });
  return out;
}

describe('FallbackStt', () => {
  it('moves to the next provider when Deepgram gives up, replaying the words it had not finalised', async () => {
    const deepgram = await new FakeDeepgramServer({
      apiKey: 'dg-key-12345678',
      vocabulary: TEST_VOCABULARY,
      // The first connection drops after two words; every reconnection is refused.
      connections: [{ dropAfterWords: 2 }, ...Array(10).fill({ reject: { status: 503, body: '{}' } })],
    }).start();
    const whisper = await new FakeOpenAiTranscriptionsServer({
      apiKey: 'sk-batch-12345678',
      vocabulary: TEST_VOCABULARY,
    }).start();
    closers.push(
      () => deepgram.close(),
      () => whisper.close(),
    );
    const log = new MemoryLog();
    const metric: string[] = [];
    const stt = new FallbackStt(
      [
        new DeepgramStt({
          apiKey: 'dg-key-12345678',
          baseUrl: deepgram.url,
          endpointingMs: false,
          maxRetries: 2,
          initialBackoffMs: 5,
          maxBackoffMs: 10,
        }),
        new OpenAiBatchStt({ apiKey: 'sk-batch-12345678', baseUrl: whisper.url, model: 'whisper-1' }),
      ],
      { log, onFallback: (e) => metric.push(`${e.from}>${e.to}`) },
    );
    expect(stt.name).toBe('deepgram:nova-3 > openai:whisper-1');
    const listener = new RecordingListener();
    const stream = stt.stream(listener);
    const audio = codedSpeech('hello world how are you', 2000);
    const t = feed(stream, audio.subarray(0, 900 * 16), 0);
    await waitUntil(() => listener.fallbacks.length === 1, 10_000, 'the fallback');
    feed(stream, audio.subarray(900 * 16), t);
    stream.flush();
    await waitUntil(() => listener.finals.length === 1, 10_000, 'the final');
    expect(listener.text).toBe('hello world how are you');
    expect(listener.fallbacks[0]).toMatchObject({
      from: 'deepgram:nova-3',
      to: 'openai:whisper-1',
      reason: 'failed',
      replayedMs: 900,
    });
    expect(listener.fallbacks[0].error?.message).toMatch(/gave up after 3 attempts.*503/);
    expect(metric).toEqual(['deepgram:nova-3>openai:whisper-1']);
    expect(log.count('stt fallback')).toBe(1);
    // The session hears no error: the fallback absorbed it.
    expect(listener.errors).toEqual([]);
    stream.close();
  });

  it('replays only audio the failing provider had not finalised, flushes included', async () => {
    const clock = new VirtualClock();
    const broken = new BreakableStt();
    // ScriptedStt hears every scripted word its audio clock has passed: give it only what it should hear.
    const scripted = new ScriptedStt({
      clock,
      words: wordsBetween('how are you', 1000, 1600),
      finalDelayMs: 10,
    });
    const listener = new RecordingListener();
    const stream = new FallbackStt([broken, scripted], { clock }).stream(listener);
    for (const f of frames(800, 0)) stream.push(f);
    stream.flush();
    // The broken provider answers the first utterance itself…
    broken.streams[0].listener.onFinal({ text: 'fine thanks', startMs: 0, endMs: 800 });
    for (const f of frames(800, 800)) stream.push(f);
    stream.flush();
    // …and fails before the second has its final.
    broken.breakAll();
    await clock.advance(50);
    expect(broken.streams[0].closed).toBe(true);
    expect(listener.finals.map((f) => f.text)).toEqual(['fine thanks', 'how are you']);
    expect(listener.fallbacks[0].replayedMs).toBe(800);
    stream.close();
  });

  it('a provider whose stream cannot be created is skipped at once', () => {
    const failing: STT = {
      name: 'failing',
      stream: () => {
        throw new CloudSttError('config', 'no way', { fatal: true });
      },
    };
    const broken = new BreakableStt();
    const listener = new RecordingListener();
    const stream = new FallbackStt([failing, broken]).stream(listener);
    expect(broken.streams).toHaveLength(1);
    stream.push(frames(20, 0)[0]);
    expect(broken.streams[0].frames).toBe(1);
    expect(listener.errors).toEqual([]);
  });

  it('when the last provider fails the error reaches the session, and the stream goes quiet', () => {
    const a = new BreakableStt();
    const b = new BreakableStt();
    const listener = new RecordingListener();
    const stream = new FallbackStt([a, b]).stream(listener);
    a.breakAll();
    expect(listener.fallbacks).toHaveLength(1);
    b.breakAll();
    expect(listener.errors).toHaveLength(1);
    expect(listener.errors[0].message).toBe('broken');
    stream.push(frames(20, 0)[0]); // ignored, no throw
    expect(b.streams[0].frames).toBe(0);
  });

  it('non-fatal errors pass through without a switch', () => {
    const a = new BreakableStt();
    const listener = new RecordingListener();
    new FallbackStt([a, new BreakableStt()]).stream(listener);
    a.streams[0].listener.onError?.(new CloudSttError('protocol', 'odd message'));
    expect(listener.errors.map((e) => e.message)).toEqual(['odd message']);
    expect(listener.fallbacks).toEqual([]);
  });

  it('moves on when a final overruns the latency budget', async () => {
    const clock = new VirtualClock();
    const words = [...wordsBetween('fine thanks', 0, 600), ...wordsBetween('how are you', 1000, 1600)];
    const slow = new ScriptedStt({ clock, words, finalDelayMs: 900 });
    const fast = new ScriptedStt({ clock, words: words.slice(2), finalDelayMs: 20 });
    const listener = new RecordingListener();
    const stream = new FallbackStt([slow, fast], { clock, finalLatencyBudgetMs: 500 }).stream(listener);
    for (const f of frames(800, 0)) stream.push(f);
    stream.flush();
    await clock.advance(1000);
    expect(listener.fallbacks).toMatchObject([{ reason: 'latency', from: 'scripted', to: 'scripted' }]);
    for (const f of frames(800, 800)) stream.push(f);
    const flushedAt = clock.now();
    stream.flush();
    await clock.advance(100);
    expect(listener.finals.map((f) => f.text)).toEqual(['fine thanks', 'how are you']);
    expect(clock.now() - flushedAt).toBeLessThan(500);
    stream.close();
  });

  it('prewarms every provider and fails only if all fail', async () => {
    const ok: STT = {
      name: 'ok',
      stream: () => ({ push() {}, flush() {}, close() {} }),
      prewarm: async () => {},
    };
    const bad: STT = { ...ok, name: 'bad', prewarm: async () => Promise.reject(new Error('nope')) };
    const log = new MemoryLog();
    await new FallbackStt([bad, ok], { log }).prewarm();
    expect(log.count('stt prewarm failed')).toBe(1);
    await expect(new FallbackStt([bad, bad]).prewarm()).rejects.toThrow('nope');
  });

  it('silence in the journal is bounded', () => {
    const a = new BreakableStt();
    const b = new BreakableStt();
    const stream = new FallbackStt([a, b], { maxReplayMs: 1000 }).stream(new RecordingListener());
    for (const f of frames(5000, 0)) stream.push(f);
    a.breakAll();
    expect(b.streams[0].frames).toBe(50);
    void silence;
  });
});
