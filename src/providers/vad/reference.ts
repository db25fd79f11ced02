import { PIPELINE_SAMPLE_RATE } from '../../audio/frame.ts';

/** Quiet deterministic noise at 16 kHz (about -60 dBFS): real rooms are never digital zero. */
export function quietNoise(ms: number, seed = 7): Int16Array {
  const out = new Int16Array((ms * PIPELINE_SAMPLE_RATE) / 1000);
  let s = seed;
  for (let i = 0; i < out.length; i++) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    out[i] = ((s / 0x7fffffff) * 2 - 1) * 30;
  }
  return out;
}

/**
 * Reference speech span of a 16 kHz clip from energy, to judge a VAD against: the first and last 10 ms block
 * that starts (ends) 50 ms of blocks all above 10% of the loudest one, so a lone click does not count as speech.
 */
export function energySpan(samples: Int16Array): { startMs: number; endMs: number } {
  const rms: number[] = [];
  for (let i = 0; i + 160 <= samples.length; i += 160) {
    let sum = 0;
    for (let j = 0; j < 160; j++) sum += samples[i + j] ** 2;
    rms.push(Math.sqrt(sum / 160));
  }
  const floor = Math.max(...rms) * 0.1;
  const sustained = (from: number) =>
    from >= 0 && from + 5 <= rms.length && rms.slice(from, from + 5).every((r) => r > floor);
  const first = rms.findIndex((_, i) => sustained(i));
  let last = rms.length - 1;
  while (!sustained(last - 4)) last--;
  return { startMs: first * 10, endMs: (last + 1) * 10 };
}
