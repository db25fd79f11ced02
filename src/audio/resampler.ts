import libsamplerate from '@alexanderolsen/libsamplerate-js';
import { type AudioFrame, floatFromInt16, int16FromFloat } from './frame.ts';

// A CommonJS/UMD bundle: Node's ESM loader only sees its default export.
const { create, ConverterType } = libsamplerate;
type LibSampleRate = Awaited<ReturnType<typeof create>>;

export interface ResamplerOptions {
  /**
   * libsamplerate's band-limited sinc converters trade CPU for stop-band attenuation. `fastest` (~97 dB) is plenty
   * for speech between 8 and 48 kHz; `medium`/`best` exist for music.
   */
  quality?: 'fastest' | 'medium' | 'best';
}

const converterFor = {
  fastest: ConverterType.SRC_SINC_FASTEST,
  medium: ConverterType.SRC_SINC_MEDIUM_QUALITY,
  best: ConverterType.SRC_SINC_BEST_QUALITY,
} as const;

/**
 * A streaming band-limited resampler (libsamplerate compiled to WebAssembly). It keeps filter state between
 * frames, so 20 ms frames resample without clicks at the seams. Creation is asynchronous (the WASM module
 * loads once); processing is synchronous.
 */
export class Resampler {
  private outputTimestampMs: number | undefined;
  private constructor(
    private readonly converter: LibSampleRate | undefined,
    readonly inputRate: number,
    readonly outputRate: number,
  ) {}

  static async create(
    inputRate: number,
    outputRate: number,
    options: ResamplerOptions = {},
  ): Promise<Resampler> {
    if (inputRate === outputRate) return new Resampler(undefined, inputRate, outputRate);
    const converter = await create(1, inputRate, outputRate, {
      converterType: converterFor[options.quality ?? 'fastest'],
    });
    return new Resampler(converter, inputRate, outputRate);
  }

  /** Resamples one chunk of a continuous stream. The output length varies by a sample or so around the ratio. */
  process(samples: Int16Array): Int16Array {
    if (!this.converter) return samples;
    return int16FromFloat(this.converter.full(floatFromInt16(samples)));
  }

  /** Resamples a frame of a continuous stream; output timestamps follow the stream, not the input jitter. */
  processFrame(frame: AudioFrame): AudioFrame {
    if (!this.converter) return frame;
    const samples = this.process(frame.samples);
    const timestampMs = this.outputTimestampMs ?? frame.timestampMs;
    this.outputTimestampMs = timestampMs + (samples.length * 1000) / this.outputRate;
    return { ...frame, samples, sampleRate: this.outputRate, timestampMs };
  }

  /** Resamples a whole clip in one go. */
  static async resampleClip(samples: Int16Array, inputRate: number, outputRate: number): Promise<Int16Array> {
    if (inputRate === outputRate) return samples;
    const converter = await create(1, inputRate, outputRate, {
      converterType: ConverterType.SRC_SINC_FASTEST,
    });
    try {
      return int16FromFloat(converter.simple(floatFromInt16(samples)));
    } finally {
      converter.destroy();
    }
  }

  destroy(): void {
    this.converter?.destroy();
  }
}
