import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { AudioFormatError, concatSamples, splitIntoFrames } from '../../audio/frame.ts';
import { readWavFile } from '../../audio/wav.ts';
import type { SpeechEndEvent, SpeechStartEvent } from './contract.ts';
import { energySpan, quietNoise as noise } from './reference.ts';
import { SileroVAD, SileroVadError } from './silero.ts';

const CLIP = '/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0880.wav';
const RATE = 16_000;

interface Run {
  starts: SpeechStartEvent[];
  ends: (SpeechEndEvent & { noticedAtStreamMs: number })[];
}

/** Pushes frames as a live session would: each one after the previous one's windows have been processed. */
async function run(vad: SileroVAD, samples: Int16Array, { startMs = 0, frameMs = 20 } = {}): Promise<Run> {
  const result: Run = { starts: [], ends: [] };
  let streamMs = startMs;
  const stream = vad.stream({
    onSpeechStart: (e) => result.starts.push(e),
    onSpeechEnd: (e) => result.ends.push({ ...e, noticedAtStreamMs: streamMs }),
  });
  for (const frame of splitIntoFrames(samples, RATE, startMs, frameMs)) {
    streamMs = frame.timestampMs + (frame.samples.length * 1000) / RATE;
    stream.push(frame);
    await stream.idle();
  }
  stream.close();
  return result;
}

describe('SileroVAD on real speech', () => {
  let speech: Int16Array;
  let vad: SileroVAD;
  beforeAll(async () => {
    speech = (await readWavFile(CLIP)).samples;
    vad = new SileroVAD({ minSilenceMs: 300 });
  });

  it('finds one utterance with start and end near the voiced audio, in session-clock time', async () => {
    const padMs = 1000;
    const clockMs = 12_345;
    const audio = concatSamples([noise(padMs), speech, noise(padMs, 9)]);
    const ref = energySpan(speech);
    const { starts, ends } = await run(vad, audio, { startMs: clockMs });
    expect(starts).toHaveLength(1);
    expect(ends).toHaveLength(1);
    const offset = clockMs + padMs;
    expect(Math.abs(starts[0].atMs - (offset + ref.startMs))).toBeLessThan(100);
    expect(Math.abs(ends[0].atMs - (offset + ref.endMs))).toBeLessThan(150);
    expect(ends[0].startedAtMs).toBe(starts[0].atMs);
    // The events carry the model's probability for the window that decided them.
    expect(starts[0].probability).toBeGreaterThan(0.5);
    expect(ends[0].probability).toBeLessThan(0.5 - 0.15);
    // speechEnd is placed at the voiced audio, and noticed about minSilenceMs later.
    const noticedAfter = ends[0].noticedAtStreamMs - ends[0].atMs;
    expect(noticedAfter).toBeGreaterThanOrEqual(300);
    expect(noticedAfter).toBeLessThan(300 + 2 * 32 + 20);
  });

  it('never fires on silence and room noise', async () => {
    const { starts, ends } = await run(vad, concatSamples([new Int16Array(RATE), noise(3000)]));
    expect(starts).toHaveLength(0);
    expect(ends).toHaveLength(0);
  });

  it('gives the same events whatever the frame size', async () => {
    const audio = concatSamples([noise(500), speech, noise(600)]);
    const base = await run(vad, audio);
    for (const frameMs of [7, 100, 333]) {
      const other = await run(vad, audio, { frameMs });
      expect(other.starts.map((e) => e.atMs)).toEqual(base.starts.map((e) => e.atMs));
      expect(other.ends.map((e) => e.atMs)).toEqual(base.ends.map((e) => e.atMs));
    }
  });

  it('bridges pauses shorter than minSilenceMs and splits on longer ones', async () => {
    const ref = energySpan(speech);
    const trimmed = speech.subarray((ref.startMs * RATE) / 1000, (ref.endMs * RATE) / 1000);
    const audio = concatSamples([noise(500), trimmed, noise(200, 3), trimmed, noise(700, 5)]);
    expect((await run(vad, audio)).ends).toHaveLength(1);
    // At 100 ms the inserted 200 ms gap splits (and so may the clip's own short pause between phrases).
    const split = await run(new SileroVAD({ minSilenceMs: 100 }), audio);
    expect(split.starts.length).toBeGreaterThanOrEqual(2);
    expect(split.ends).toHaveLength(split.starts.length);
    const gapStart = 500 + trimmed.length / 16;
    expect(split.ends.some((e) => Math.abs(e.atMs - gapStart) < 100)).toBe(true);
    for (let i = 1; i < split.starts.length; i++)
      expect(split.ends[i - 1].atMs).toBeLessThan(split.starts[i].atMs);
  });

  it('keeps streams independent: interleaved sessions on the shared model, one closed mid-speech', async () => {
    const audio = concatSamples([noise(500), speech, noise(600)]);
    const alone = await run(vad, audio);
    const a: Run = { starts: [], ends: [] };
    const b: Run = { starts: [], ends: [] };
    const sa = vad.stream({
      onSpeechStart: (e) => a.starts.push(e),
      onSpeechEnd: (e) => a.ends.push({ ...e, noticedAtStreamMs: 0 }),
    });
    const sb = vad.stream({
      onSpeechStart: (e) => b.starts.push(e),
      onSpeechEnd: (e) => b.ends.push({ ...e, noticedAtStreamMs: 0 }),
    });
    const quiet = noise(audio.length / 16);
    const framesA = [...splitIntoFrames(audio, RATE)];
    const framesB = [...splitIntoFrames(quiet, RATE)];
    // Pushed back to back without waiting: each stream queues its windows and runs them in order.
    framesA.forEach((frame, i) => {
      sa.push(frame);
      sb.push(framesB[i]);
    });
    await Promise.all([sa.idle(), sb.idle()]);
    expect(a.starts).toEqual(alone.starts);
    expect(a.ends.map((e) => e.atMs)).toEqual(alone.ends.map((e) => e.atMs));
    expect(b.starts).toHaveLength(0);
    sa.close();
    sb.close();
    // Closed mid-speech with windows still queued: nothing fires afterwards, late frames are dropped.
    const late: string[] = [];
    const mid = vad.stream({ onSpeechStart: () => late.push('start'), onSpeechEnd: () => late.push('end') });
    for (const frame of framesA) mid.push(frame);
    mid.close();
    mid.push(framesA[60]);
    await mid.idle();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(late).toEqual([]);
    const again = await run(vad, audio);
    expect(again.starts).toEqual(alone.starts);
    expect(again.ends.map((e) => e.atMs)).toEqual(alone.ends.map((e) => e.atMs));
  });

  it('defaults minSpeechMs to 64 ms (two windows) and places the onset the same whatever its value', async () => {
    const audio = concatSamples([noise(500), speech, noise(600)]);
    const fast = await run(vad, audio);
    const slow = await run(new SileroVAD({ minSpeechMs: 160 }), audio);
    expect(new SileroVAD().options.minSpeechMs).toBe(64);
    // Same placement of the onset; only when it is noticed differs.
    expect(slow.starts[0].atMs).toBe(fast.starts[0].atMs);
  });

  it('reports a failing model through onError, or from the next push, and stops', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'silero-'));
    const modelPath = join(dir, 'broken.onnx');
    await writeFile(modelPath, 'not an onnx model');
    const frames = [...splitIntoFrames(concatSamples([noise(200)]), RATE)];

    const errors: unknown[] = [];
    const reported = new SileroVAD({ modelPath }).stream({
      onSpeechStart: () => {},
      onSpeechEnd: () => {},
      onError: (error) => errors.push(error),
    });
    for (const frame of frames) reported.push(frame);
    await reported.idle();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(SileroVadError);
    expect(String(errors[0])).toMatch(/failed to load/);
    expect(() => reported.push(frames[0])).toThrow(/failed earlier/);
    reported.close();

    const thrown = new SileroVAD({ modelPath }).stream({ onSpeechStart: () => {}, onSpeechEnd: () => {} });
    for (const frame of frames) thrown.push(frame);
    await thrown.idle();
    expect(() => thrown.push(frames[0])).toThrow(/failed to load/);
    expect(() => thrown.push(frames[0])).toThrow(SileroVadError);
    thrown.close();
    await rm(dir, { recursive: true });
  });

  it('refuses bad input with typed errors', () => {
    const stream = vad.stream({ onSpeechStart: () => {}, onSpeechEnd: () => {} });
    expect(() => stream.push({ samples: new Int16Array(160), sampleRate: 8000, timestampMs: 0 })).toThrow(
      AudioFormatError,
    );
    stream.close();
    expect(() => new SileroVAD({ threshold: 1.5 })).toThrow(SileroVadError);
    expect(() => new SileroVAD({ minSilenceMs: -1 })).toThrow(SileroVadError);
    expect(() => new SileroVAD({ modelPath: '/nonexistent/silero.onnx' })).toThrow(/not found/);
  });
});
