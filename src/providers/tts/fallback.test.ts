import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../metrics/clock.ts';
import { AsyncQueue } from '../../util/async-queue.ts';
import { type FallbackEvent, fallbackStateOf } from '../llm/fallback-rotation.ts';
import type { TTS, TtsAudio, TtsStream, TtsStreamOptions } from './contract.ts';
import { FallbackTts } from './fallback.ts';
import { ScriptedTts } from './scripted.ts';

/** A TTS that gives `framesPerSegment` frames per flushed segment and breaks after `failAfterFrames` frames. */
class BrokenTts implements TTS {
  readonly sampleRate = 16_000;
  readonly streams: { texts: string[]; aborted: boolean }[] = [];
  constructor(
    readonly name: string,
    private readonly failAfterFrames: number,
    private readonly framesPerSegment = 3,
  ) {}

  stream(options: TtsStreamOptions): TtsStream {
    const output = new AsyncQueue<TtsAudio>();
    const record = { texts: [] as string[], aborted: false };
    this.streams.push(record);
    options.signal.addEventListener('abort', () => {
      record.aborted = true;
      output.end();
    });
    let pending = '';
    let frames = 0;
    let segment = -1;
    return {
      pushText: (t) => {
        pending += t;
      },
      flush: () => {
        segment++;
        record.texts.push(pending);
        pending = '';
        for (let i = 0; i < this.framesPerSegment; i++) {
          if (frames++ >= this.failAfterFrames) {
            output.fail(new Error(`${this.name} broke`));
            return;
          }
          output.push({
            segment,
            frame: { samples: new Int16Array(320), sampleRate: 16_000, timestampMs: 0 },
          });
        }
      },
      end: () => output.end(),
      [Symbol.asyncIterator]: () => output[Symbol.asyncIterator](),
    };
  }
}

async function run(tts: TTS, sentences: string[], clock?: VirtualClock) {
  const stream = tts.stream({ signal: new AbortController().signal });
  const audio: TtsAudio[] = [];
  let error: unknown;
  const done = (async () => {
    for await (const a of stream) audio.push(a);
  })().catch((e) => {
    error = e;
  });
  for (const s of sentences) {
    stream.pushText(s);
    stream.flush();
  }
  stream.end();
  if (clock) await clock.advance(10_000);
  await done;
  return { audio, error, segments: audio.map((a) => a.segment) };
}

const options = (events: FallbackEvent[], clock = new VirtualClock()) => ({
  clock,
  budgetMs: 2000,
  onFallback: (e: FallbackEvent) => events.push(e),
});

describe('FallbackTts', () => {
  it('moves a stream that fails before any audio to the next provider, counts it and stays there', async () => {
    const events: FallbackEvent[] = [];
    const clock = new VirtualClock();
    const broken = new BrokenTts('broken', 0);
    const backup = new ScriptedTts({ clock, msPerCharacter: 20 });
    const tts = new FallbackTts([broken, backup], options(events, clock));
    const { error, segments } = await run(tts, ['One.', 'Two.'], clock);
    expect(error).toBeUndefined();
    expect(new Set(segments)).toEqual(new Set([0, 1]));
    expect(backup.segmentsSynthesized).toEqual(['One.', 'Two.']);
    expect(events).toMatchObject([
      { kind: 'tts', from: 'broken', to: 'scripted', reason: 'error', error: 'broken broke' },
    ]);
    expect(fallbackStateOf(tts)).toEqual(
      expect.objectContaining({ activeProvider: 'scripted', fallbackCount: 1 }),
    );

    await run(tts, ['Three.'], clock);
    expect(broken.streams).toHaveLength(1);
    expect(backup.segmentsSynthesized).toEqual(['One.', 'Two.', 'Three.']);
  });

  it('says the sentence that was cut off again, and the rest, after a mid-reply failure', async () => {
    const events: FallbackEvent[] = [];
    const clock = new VirtualClock();
    const broken = new BrokenTts('broken', 4); // all of segment 0, one frame of segment 1
    const backup = new ScriptedTts({ clock, msPerCharacter: 20 });
    const tts = new FallbackTts([broken, backup], options(events, clock));
    const { error, segments } = await run(tts, ['First sentence.', 'Second one.', 'Third.'], clock);
    expect(error).toBeUndefined();
    expect(segments.slice(0, 4)).toEqual([0, 0, 0, 1]);
    expect(backup.segmentsSynthesized).toEqual(['Second one.', 'Third.']);
    expect(segments.slice(4).every((s) => s === 1 || s === 2)).toBe(true);
    expect(segments.at(-1)).toBe(2);
    expect(broken.streams[0].aborted).toBe(true);
  });

  it('switches when the first audio misses the budget', async () => {
    const events: FallbackEvent[] = [];
    const clock = new VirtualClock();
    const slow = new ScriptedTts({ clock, ttfbMs: 5000 });
    const quick = new ScriptedTts({ clock, ttfbMs: 100, sampleRate: 16_000 });
    Object.defineProperty(quick, 'name', { value: 'quick' });
    const tts = new FallbackTts([slow, quick], options(events, clock));
    const { error, audio } = await run(tts, ['Hello.'], clock);
    expect(error).toBeUndefined();
    expect(audio.length).toBeGreaterThan(0);
    expect(events).toMatchObject([{ reason: 'budget', atMs: 2000, to: 'quick' }]);
    expect(tts.activeProvider).toBe('quick');
  });

  it('resamples a fallback with another rate to the chain rate', async () => {
    const clock = new VirtualClock();
    const broken = new BrokenTts('broken', 0);
    const wide = new ScriptedTts({ clock, sampleRate: 24_000, msPerCharacter: 50 });
    const tts = new FallbackTts([broken, wide], { clock });
    expect(tts.sampleRate).toBe(16_000);
    const { audio } = await run(tts, ['Ten chars.'], clock);
    expect(audio.every((a) => a.frame.sampleRate === 16_000)).toBe(true);
    const total = audio.reduce((n, a) => n + a.frame.samples.length, 0);
    // 10 characters at 50 ms = 500 ms of audio: 8,000 samples at 16 kHz (give or take the filter's delay).
    expect(Math.abs(total - 8000)).toBeLessThan(200);
  });

  it('fails the stream when the last provider fails too', async () => {
    const events: FallbackEvent[] = [];
    const tts = new FallbackTts([new BrokenTts('a', 0), new BrokenTts('b', 0)], options(events));
    const { error } = await run(tts, ['Hi.']);
    expect((error as Error).message).toBe('b broke');
    expect(events).toHaveLength(1);
  });
});
