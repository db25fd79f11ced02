/**
 * Prosody of the end of an utterance, by plain DSP on 16 kHz mono PCM16: no model. Statements tend to end with
 * falling pitch, lower final pitch, fading energy and a lengthened last syllable; a speaker who holds the floor
 * keeps the pitch level or rising and the energy up. Pitch is found by normalised autocorrelation on audio
 * decimated to 4 kHz (32 ms windows every 10 ms, 65–320 Hz, peak refined by parabolic interpolation): about a
 * millisecond of CPU for the 1.5 s analysed.
 */

export interface ProsodyOptions {
  /** Sample rate of the input. Only 16 kHz (the pipeline rate) is supported. */
  sampleRate: number;
  /** How much audio before the end is analysed, ms; older audio says little about how the turn ends. */
  analysisMs: number;
  /** The final stretch whose pitch slope and energy are measured, ms of voiced audio. */
  finalMs: number;
  /** Normalised autocorrelation above which a window counts as voiced. */
  voicingThreshold: number;
  /** Windows quieter than the loudest by more than this are not voiced, dB. */
  dynamicRangeDb: number;
}

export const DEFAULT_PROSODY: ProsodyOptions = {
  sampleRate: 16_000,
  analysisMs: 1500,
  finalMs: 300,
  voicingThreshold: 0.6,
  dynamicRangeDb: 25,
};

/** Same fields as the turn detector contract's ProsodyFeatures (audio/ imports nothing of ours). */
export interface ProsodyMeasurement {
  pitchSlopeStPerSec: number | null;
  finalPitchSt: number | null;
  energyDecayDb: number | null;
  finalLengthening: number | null;
  voicedMs: number;
}

const HOP_MS = 10;
const RATE = 4000;
const WINDOW = 128; // 32 ms at 4 kHz
const MIN_LAG = Math.floor(RATE / 320);
const MAX_LAG = Math.ceil(RATE / 65);
/** Quieter than this (dBFS) is silence whatever the dynamic range says. */
const ABSOLUTE_FLOOR_DB = -55;

interface Window {
  db: number;
  /** Pitch in semitones above 100 Hz, or null when unvoiced. */
  pitchSt: number | null;
}

/** Measures the prosody of the end of `samples` (the utterance and any trailing silence). */
export function measureProsody(
  samples: Int16Array,
  options: Partial<ProsodyOptions> = {},
): ProsodyMeasurement {
  const o = { ...DEFAULT_PROSODY, ...options };
  if (o.sampleRate !== 16_000) throw new RangeError(`prosody: 16 kHz audio expected, got ${o.sampleRate} Hz`);
  const tail = samples.subarray(Math.max(0, samples.length - Math.round((o.analysisMs * 16_000) / 1000)));
  const windows = analyse(decimate(tail), o);
  const voiced = windows.map((w, i) => ({ ...w, i })).filter((w) => w.pitchSt !== null);
  const empty: ProsodyMeasurement = {
    pitchSlopeStPerSec: null,
    finalPitchSt: null,
    energyDecayDb: null,
    finalLengthening: null,
    voicedMs: voiced.length * HOP_MS,
  };
  const finalCount = Math.round(o.finalMs / HOP_MS);
  if (voiced.length < Math.max(8, finalCount / 3)) return empty;

  const final = voiced.slice(-finalCount);
  const pitches = voiced.map((w) => w.pitchSt as number);
  const slope = regressionSlope(
    final.map((w) => (w.i * HOP_MS) / 1000),
    final.map((w) => w.pitchSt as number),
  );
  const lastPitch = median(voiced.slice(-10).map((w) => w.pitchSt as number));
  const meanDb = (ws: { db: number }[]) => ws.reduce((s, w) => s + w.db, 0) / ws.length;
  return {
    pitchSlopeStPerSec: slope,
    finalPitchSt: lastPitch - median(pitches),
    energyDecayDb: meanDb(final) - meanDb(voiced),
    finalLengthening: lengthening(windows),
    voicedMs: voiced.length * HOP_MS,
  };
}

/** 16 → 4 kHz by averaging groups of four: enough low-pass for pitch below 320 Hz, and a sixteenth of the work. */
function decimate(samples: Int16Array): Float32Array {
  const out = new Float32Array(samples.length >> 2);
  for (let i = 0; i < out.length; i++) {
    const j = 4 * i;
    out[i] = (samples[j] + samples[j + 1] + samples[j + 2] + samples[j + 3]) / 131072;
  }
  return out;
}

function analyse(x: Float32Array, o: ProsodyOptions): Window[] {
  const hop = (RATE * HOP_MS) / 1000;
  const windows: Window[] = [];
  const starts: number[] = [];
  for (let start = 0; start + WINDOW + MAX_LAG <= x.length; start += hop) {
    let energy = 0;
    for (let i = start; i < start + WINDOW; i++) energy += x[i] * x[i];
    windows.push({ db: 10 * Math.log10(energy / WINDOW + 1e-12), pitchSt: null });
    starts.push(start);
  }
  const loudest = windows.reduce((m, w) => Math.max(m, w.db), Number.NEGATIVE_INFINITY);
  const floor = Math.max(ABSOLUTE_FLOOR_DB, loudest - o.dynamicRangeDb);
  // The autocorrelation is the cost: only windows loud enough to be speech get one, and the lagged window's
  // energy comes from a running sum instead of a second product.
  const energyUpTo = new Float64Array(x.length + 1);
  for (let i = 0; i < x.length; i++) energyUpTo[i + 1] = energyUpTo[i] + x[i] * x[i];
  windows.forEach((w, i) => {
    if (w.db >= floor) w.pitchSt = pitchOf(x, energyUpTo, starts[i], o.voicingThreshold);
  });
  removeOutliers(windows);
  return windows;
}

/**
 * Pitch trackers slip an octave or lock onto noise now and then; a voiced window far from the median of its
 * voiced neighbours is such a slip, and counts as unvoiced rather than bend the slope.
 */
function removeOutliers(windows: Window[]): void {
  const pitches = windows.map((w) => w.pitchSt);
  windows.forEach((w, i) => {
    if (w.pitchSt === null) return;
    const around: number[] = [];
    for (let j = Math.max(0, i - 3); j <= Math.min(windows.length - 1, i + 3); j++) {
      const p = pitches[j];
      if (p !== null) around.push(p);
    }
    const isolated = around.length < 3;
    if (isolated || Math.abs(w.pitchSt - median(around)) > 4) w.pitchSt = null;
  });
}

/** Pitch of the window at `start` by normalised autocorrelation, semitones above 100 Hz; null when unvoiced. */
function pitchOf(x: Float32Array, energyUpTo: Float64Array, start: number, threshold: number): number | null {
  let best = 0;
  let bestLag = 0;
  const e0 = energyUpTo[start + WINDOW] - energyUpTo[start];
  if (e0 <= 0) return null;
  const scores = new Float32Array(MAX_LAG + 2).fill(-1);
  const score = (lag: number) => {
    if (scores[lag] > -1) return scores[lag];
    let r = 0;
    for (let i = start; i < start + WINDOW; i++) r += x[i] * x[i + lag];
    const e1 = energyUpTo[start + lag + WINDOW] - energyUpTo[start + lag];
    scores[lag] = r / Math.sqrt(e0 * e1 + 1e-12);
    return scores[lag];
  };
  for (let lag = MIN_LAG; lag <= MAX_LAG; lag++) {
    if (score(lag) > best) {
      best = scores[lag];
      bestLag = lag;
    }
  }
  // A best lag at the edge of the range is no period (fricatives and hiss correlate at the shortest lag).
  if (best < threshold || bestLag <= MIN_LAG || bestLag >= MAX_LAG) return null;
  // Multiples of the period correlate almost as well: prefer a half or a third of the lag when it is nearly as good.
  for (const divisor of [3, 2]) {
    const base = Math.round(bestLag / divisor);
    if (base <= MIN_LAG) continue;
    const candidate = [base - 1, base, base + 1].reduce((a, b) => (score(b) > score(a) ? b : a));
    if (score(candidate) >= 0.9 * best) {
      bestLag = candidate;
      break;
    }
  }
  // At 4 kHz one lag is a few per cent of the period: a parabola through the peak and its neighbours refines it.
  const [a, b, c] = [score(bestLag - 1), score(bestLag), score(bestLag + 1)];
  const curvature = a - 2 * b + c;
  const offset = curvature < 0 ? Math.max(-0.5, Math.min(0.5, (0.5 * (a - c)) / curvature)) : 0;
  return 12 * Math.log2(RATE / (bestLag + offset) / 100);
}

/** Length of the last voiced run over the median run (runs joined across gaps up to 50 ms). */
function lengthening(windows: Window[]): number | null {
  const runs: number[] = [];
  let run = 0;
  let gap = 0;
  for (const w of windows) {
    if (w.pitchSt !== null) {
      run += 1 + gap;
      gap = 0;
    } else if (run > 0 && ++gap > 5) {
      runs.push(run);
      run = 0;
      gap = 0;
    }
  }
  if (run > 0) runs.push(run);
  if (runs.length < 2) return null;
  return runs[runs.length - 1] / median(runs);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function regressionSlope(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den > 0 ? num / den : 0;
}

/**
 * The last few seconds of a stream's audio, for measuring prosody when speech ends. Bounded: a fixed ring of
 * `analysisMs` + `marginMs` of 16 kHz samples (~80 KB), overwritten as frames arrive.
 */
export class ProsodyMeter {
  private readonly ring: Int16Array;
  private written = 0;

  constructor(
    private readonly options: Partial<ProsodyOptions> = {},
    /** Room for the silence the VAD waits before it reports the end of speech. */
    marginMs = 1000,
  ) {
    const analysisMs = options.analysisMs ?? DEFAULT_PROSODY.analysisMs;
    this.ring = new Int16Array(Math.round(((analysisMs + marginMs) * 16_000) / 1000));
  }

  push(samples: Int16Array): void {
    const n = this.ring.length;
    const chunk = samples.length > n ? samples.subarray(samples.length - n) : samples;
    const at = this.written % n;
    const first = Math.min(chunk.length, n - at);
    this.ring.set(chunk.subarray(0, first), at);
    if (first < chunk.length) this.ring.set(chunk.subarray(first), 0);
    this.written += chunk.length;
  }

  /** Prosody of the audio held, oldest first. */
  measure(): ProsodyMeasurement {
    const n = this.ring.length;
    const held = Math.min(this.written, n);
    const ordered = new Int16Array(held);
    const start = (this.written - held) % n;
    const first = Math.min(held, n - start);
    ordered.set(this.ring.subarray(start, start + first), 0);
    if (first < held) ordered.set(this.ring.subarray(0, held - first), first);
    return measureProsody(ordered, this.options);
  }
}
