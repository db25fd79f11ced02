import { describe, expect, it } from 'vitest';
import { AsyncQueue } from '../../util/async-queue.ts';
import type { TTS, TtsAudio, TtsStream } from './contract.ts';
import { LeadingSilenceTrimmer, trimLeadingSilence } from './leading-silence.ts';

const RATE = 16_000;
const OPTIONS = { thresholdDbfs: -40, windowMs: 5, maxTrimMs: 2000 };
const tone = (n: number, amplitude = 8000) =>
  Int16Array.from({ length: n }, (_, i) => Math.round(amplitude * Math.sin(i / 3 + 1)));
const quiet = (n: number, amplitude = 20) =>
  Int16Array.from({ length: n }, (_, i) => (i % 2 ? amplitude : -amplitude));

describe('LeadingSilenceTrimmer', () => {
  it('drops quiet chunks and releases the chunk with the onset at once, from the pre-roll on', () => {
    const trimmer = new LeadingSilenceTrimmer(RATE, 5, OPTIONS);
    for (let i = 0; i < 10; i++) expect(trimmer.push(quiet(320))).toBeNull(); // 200 ms of near-silence
    const onsetChunk = new Int16Array(320);
    onsetChunk.set(quiet(100));
    onsetChunk.set(tone(220), 100);
    const out = trimmer.push(onsetChunk);
    expect(out).not.toBeNull();
    // 5 ms of pre-roll (80 samples) in front of the first loud sample, which is at 100 or just after it.
    expect(out?.audibleOffset).toBeGreaterThanOrEqual(80);
    expect(out?.audibleOffset).toBeLessThan(84);
    expect(out?.samples.length).toBe(320 - 100 + (out?.audibleOffset ?? 0));
    expect(trimmer.trimmedMs).toBeCloseTo(200 + (100 - (out?.audibleOffset ?? 0)) / 16, 0);
    // Afterwards everything passes untouched, quiet or not (pauses inside the speech are kept).
    const later = quiet(320);
    expect(trimmer.push(later)?.samples).toBe(later);
  });

  it('keeps the pre-roll from earlier quiet chunks when the onset is at the very start of a chunk', () => {
    const trimmer = new LeadingSilenceTrimmer(RATE, 5, OPTIONS);
    expect(trimmer.push(new Int16Array(320))).toBeNull();
    const out = trimmer.push(tone(320));
    expect(out?.audibleOffset).toBe(80);
    expect(out?.samples.length).toBe(400);
  });

  it('passes audio that stays quiet past maxTrimMs as it is', () => {
    const trimmer = new LeadingSilenceTrimmer(RATE, 5, { ...OPTIONS, maxTrimMs: 100 });
    const results = Array.from({ length: 8 }, () => trimmer.push(new Int16Array(320)));
    expect(results.slice(0, 4).every((r) => r === null)).toBe(true);
    expect(results.at(-1)?.samples.length).toBe(320);
    expect(trimmer.trimmedMs).toBeLessThanOrEqual(100);
  });

  it('a level below the threshold is quiet, one above is sound', () => {
    // -40 dBFS is an RMS of ~328; a square wave of amplitude 300 is below, 400 above.
    expect(new LeadingSilenceTrimmer(RATE, 0, OPTIONS).push(quiet(320, 300))).toBeNull();
    expect(new LeadingSilenceTrimmer(RATE, 0, OPTIONS).push(quiet(320, 400))?.audibleOffset).toBe(0);
  });
});

/** A TTS whose frames the test pushes by hand: each segment starts with 200 ms of zeros, then a tone. */
function handTts(): { tts: TTS; frames: AsyncQueue<TtsAudio> } {
  const frames = new AsyncQueue<TtsAudio>();
  const stream: TtsStream = {
    pushText: () => {},
    flush: () => {},
    end: () => frames.end(),
    [Symbol.asyncIterator]: () => frames[Symbol.asyncIterator](),
  };
  return { tts: { name: 'hand', sampleRate: RATE, stream: () => stream }, frames };
}

const frame = (segment: number, samples: Int16Array, timestampMs: number): TtsAudio => ({
  segment,
  frame: { samples, sampleRate: RATE, timestampMs },
});

describe('trimLeadingSilence', () => {
  it('trims the first segment to the pre-roll and later segments to the gap, reporting each', async () => {
    const { tts, frames } = handTts();
    let now = 0;
    const clock = { now: () => now, schedule: () => () => {}, sleep: async () => {} };
    const stream = trimLeadingSilence(tts, { clock }).stream({ signal: new AbortController().signal });
    const iterator = stream[Symbol.asyncIterator]();
    for (let i = 0; i < 10; i++) frames.push(frame(0, new Int16Array(320), i * 20));
    frames.push(frame(0, tone(320), 200));
    const first = await iterator.next();
    expect(first.done).toBe(false);
    expect(first.value.segment).toBe(0);
    expect(first.value.trim).toMatchObject({ audibleOffsetMs: 5, trimmedMs: 195, firstFrameAtMs: 0 });
    expect(first.value.frame.timestampMs).toBeCloseTo(195, 5);
    now = 1000;
    for (let i = 0; i < 10; i++) frames.push(frame(1, new Int16Array(320), 220 + i * 20));
    frames.push(frame(1, tone(320), 420));
    const second = await iterator.next();
    expect(second.value.segment).toBe(1);
    // A later sentence keeps a short natural gap (120 ms) of its own lead-in.
    expect(second.value.trim).toMatchObject({ audibleOffsetMs: 120, trimmedMs: 80, firstFrameAtMs: 1000 });
    stream.end();
    expect((await iterator.next()).done).toBe(true);
  });

  it('keeps the capability flags and refuses bad options with a clear error', () => {
    const { tts } = handTts();
    expect(trimLeadingSilence({ ...tts, streamingInput: true }).streamingInput).toBe(true);
    expect(() => trimLeadingSilence(tts, { thresholdDbfs: 3 })).toThrow(/thresholdDbfs/);
    expect(() => trimLeadingSilence(tts, { windowMs: 0 })).toThrow(/windowMs/);
  });
});
