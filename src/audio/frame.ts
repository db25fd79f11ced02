/** Mono PCM16 audio. 20 ms per frame by default; the pipeline runs at 16 kHz internally. */
export interface AudioFrame {
  readonly samples: Int16Array;
  readonly sampleRate: number;
  /** Session-clock time of the frame's first sample, in ms. */
  readonly timestampMs: number;
  /** Agent speech this frame belongs to (its epoch); absent on user audio. */
  readonly speechId?: number;
}

export const PIPELINE_SAMPLE_RATE = 16_000;
export const DEFAULT_FRAME_MS = 20;
/** Larger frames than this are refused: nothing real sends 10 s of audio in one frame. */
export const MAX_FRAME_MS = 1_000;
const SUPPORTED_RATES = new Set([8_000, 11_025, 12_000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000]);

export class AudioFormatError extends Error {
  override readonly name = 'AudioFormatError';
}

export function frameDurationMs(frame: Pick<AudioFrame, 'samples' | 'sampleRate'>): number {
  return (frame.samples.length * 1000) / frame.sampleRate;
}

export function samplesForMs(ms: number, sampleRate: number): number {
  return Math.round((ms * sampleRate) / 1000);
}

/** Throws AudioFormatError unless the frame is something the pipeline can take (after resampling). */
export function validateFrame(frame: AudioFrame): void {
  if (!frame || !(frame.samples instanceof Int16Array)) {
    throw new AudioFormatError('frame.samples must be an Int16Array of mono PCM16');
  }
  if (!SUPPORTED_RATES.has(frame.sampleRate)) {
    throw new AudioFormatError(
      `unsupported sample rate ${frame.sampleRate} Hz (supported: ${[...SUPPORTED_RATES].join(', ')})`,
    );
  }
  if (!Number.isFinite(frame.timestampMs)) {
    throw new AudioFormatError(`frame.timestampMs must be a finite number, got ${frame.timestampMs}`);
  }
  if (frameDurationMs(frame) > MAX_FRAME_MS) {
    throw new AudioFormatError(
      `frame of ${frameDurationMs(frame).toFixed(0)} ms exceeds the ${MAX_FRAME_MS} ms limit; split it into 20 ms frames`,
    );
  }
}

/**
 * PCM16 from raw little-endian bytes. An odd byte count cannot be PCM16 and is refused rather than
 * silently truncated, so a framing bug upstream shows up where it happens.
 */
export function int16FromBytes(bytes: Uint8Array): Int16Array {
  if (bytes.byteLength % 2 !== 0) {
    throw new AudioFormatError(`PCM16 needs an even number of bytes, got ${bytes.byteLength}`);
  }
  const out = new Int16Array(bytes.byteLength / 2);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = view.getInt16(i * 2, true);
  return out;
}

export function bytesFromInt16(samples: Int16Array): Uint8Array {
  const out = new Uint8Array(samples.length * 2);
  const view = new DataView(out.buffer);
  for (let i = 0; i < samples.length; i++) view.setInt16(i * 2, samples[i], true);
  return out;
}

/** Float samples in [-1, 1] (NaN and out-of-range values are clamped, NaN to 0) to PCM16. */
export function int16FromFloat(samples: ArrayLike<number>): Int16Array {
  const out = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i++) {
    const v = samples[i];
    const clamped = Number.isNaN(v) ? 0 : v > 1 ? 1 : Math.max(v, -1);
    out[i] = clamped < 0 ? clamped * 0x8000 : clamped * 0x7fff;
  }
  return out;
}

export function floatFromInt16(samples: Int16Array): Float32Array {
  const out = new Float32Array(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = samples[i] / 0x8000;
  return out;
}

/** Splits continuous PCM into frames of `frameMs`, the last one possibly shorter. */
export function* splitIntoFrames(
  samples: Int16Array,
  sampleRate: number,
  startMs = 0,
  frameMs = DEFAULT_FRAME_MS,
): Generator<AudioFrame> {
  const step = samplesForMs(frameMs, sampleRate);
  for (let offset = 0; offset < samples.length; offset += step) {
    yield {
      samples: samples.subarray(offset, Math.min(offset + step, samples.length)),
      sampleRate,
      timestampMs: startMs + (offset * 1000) / sampleRate,
    };
  }
}

export function concatSamples(chunks: readonly Int16Array[]): Int16Array {
  let length = 0;
  for (const c of chunks) length += c.length;
  const out = new Int16Array(length);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}

export function silence(ms: number, sampleRate = PIPELINE_SAMPLE_RATE): Int16Array {
  return new Int16Array(samplesForMs(ms, sampleRate));
}
