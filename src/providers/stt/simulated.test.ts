import { describe, expect, it } from 'vitest';
import { splitIntoFrames } from '../../audio/frame.ts';
import { VirtualClock } from '../../metrics/clock.ts';
import { quietNoise } from '../vad/reference.ts';
import type { Transcript } from './contract.ts';
import { SimulatedStt } from './simulated.ts';

/** 2 s of a loud deterministic signal standing in for speech, with 200 ms of quiet either side. */
function recording(seed: number): Int16Array {
  const out = new Int16Array(2400 * 16);
  let s = seed;
  for (let i = 3200; i < out.length - 3200; i++) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    out[i] = ((s / 0x7fffffff) * 2 - 1) * 12_000;
  }
  out.set(quietNoise(200, seed), 0);
  out.set(quietNoise(200, seed + 1), out.length - 3200);
  return out;
}

function setup(finalDelay: number | { minMs: number; maxMs: number } = 25) {
  const clock = new VirtualClock();
  const a = recording(1);
  const b = recording(2);
  const stt = new SimulatedStt({
    clock,
    finalDelay,
    utterances: [
      { samples: a, text: 'he was not an ill disposed young man' },
      { samples: b, text: 'he might even have been made amiable himself' },
    ],
  });
  const interims: Transcript[] = [];
  const finals: { at: number; t: Transcript }[] = [];
  const stream = stt.stream({
    onInterim: (t) => interims.push(t),
    onFinal: (t) => finals.push({ at: clock.now(), t }),
  });
  let t = 1000;
  const play = (samples: Int16Array, upToMs = Number.POSITIVE_INFINITY) => {
    for (const frame of splitIntoFrames(samples, 16_000)) {
      if (frame.timestampMs >= upToMs) break;
      stream.push({ ...frame, timestampMs: t });
      t += 20;
    }
  };
  return { clock, a, b, stream, interims, finals, play };
}

describe('SimulatedStt', () => {
  it('recognises a known recording word by word and finalises it after the flush delay, punctuated', async () => {
    const { clock, a, stream, interims, finals, play } = setup(25);
    play(a.subarray(0, 16 * 1300));
    await clock.advance(0);
    const midway = interims.at(-1)?.text ?? '';
    expect(midway.split(' ').length).toBeGreaterThan(1);
    expect(midway.split(' ').length).toBeLessThan(8);
    expect('he was not an ill disposed young man'.startsWith(midway)).toBe(true);
    play(a.subarray(16 * 1300));
    await clock.advance(0);
    expect(interims.at(-1)?.text).toBe('he was not an ill disposed young man');
    const flushedAt = clock.now();
    stream.flush();
    await clock.advance(24);
    expect(finals).toEqual([]);
    await clock.advance(1);
    expect(finals[0].t.text).toBe('He was not an ill disposed young man.');
    expect(finals[0].at - flushedAt).toBe(25);
    // Words sit on the session clock where the client's audio put them (speech from 200 ms to 2200 ms).
    expect(finals[0].t.startMs).toBeCloseTo(1200, -2);
    expect(finals[0].t.endMs).toBeCloseTo(3200, -2);
  });

  it('hears unknown audio as silence and gives an empty final for it', async () => {
    const { clock, stream, interims, finals, play } = setup(10);
    play(recording(99));
    stream.flush();
    await clock.advance(50);
    expect(interims).toEqual([]);
    expect(finals.map((f) => f.t.text)).toEqual(['']);
  });

  it('a barge-in: a recording cut short yields the words heard so far, then the next one starts afresh', async () => {
    const { clock, a, b, stream, finals, play } = setup({ minMs: 10, maxMs: 40 });
    play(a, 1200);
    stream.flush();
    await clock.advance(40);
    const partial = finals[0].t.text;
    expect(partial.length).toBeGreaterThan(3);
    expect('He was not an ill disposed young man.'.startsWith(partial.slice(0, -1))).toBe(true);
    expect(partial).not.toBe('He was not an ill disposed young man.');
    expect(finals[0].at).toBeGreaterThanOrEqual(10);
    play(b);
    stream.flush();
    await clock.advance(40);
    expect(finals[1].t.text).toBe('He might even have been made amiable himself.');
  });

  it('emits nothing after close', async () => {
    const { clock, a, stream, finals, interims, play } = setup(25);
    play(a);
    stream.flush();
    stream.close();
    const before = interims.length;
    await clock.advance(100);
    expect(finals).toEqual([]);
    expect(interims.length).toBe(before);
  });
});
