import { Decoder, Encoder } from '@evan/opus';
import { AudioFormatError } from './frame.ts';

/** WebRTC sends Opus at 48 kHz; 20 ms frames are what browsers send and expect. */
export const OPUS_SAMPLE_RATE = 48_000;
export const OPUS_FRAME_MS = 20;
export const OPUS_FRAME_SAMPLES = (OPUS_SAMPLE_RATE * OPUS_FRAME_MS) / 1000;
/** The longest packet Opus allows (120 ms): more decoded samples than this means a corrupt packet. */
const MAX_PACKET_SAMPLES = (OPUS_SAMPLE_RATE * 120) / 1000;

export interface OpusEncoderOptions {
  /** Target bitrate in bits/s; speech is transparent well below the library default. */
  bitrate?: number;
  /** 0 (fastest) to 10 (best); 5 keeps a 20 ms frame well under a millisecond of CPU. */
  complexity?: 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10;
}

/**
 * Encodes mono PCM16 at 48 kHz into Opus packets, one per frame. The bindings are native where a prebuilt
 * binary exists (x64/arm64 Linux, macOS, Windows) and WebAssembly elsewhere.
 */
export class OpusEncoder {
  private readonly encoder: Encoder;

  constructor(options: OpusEncoderOptions = {}) {
    this.encoder = new Encoder({ channels: 1, sample_rate: OPUS_SAMPLE_RATE, application: 'voip' });
    this.encoder.bitrate = options.bitrate ?? 32_000;
    this.encoder.complexity = options.complexity ?? 5;
    this.encoder.signal = 'voice';
  }

  /** One Opus packet from exactly one 20 ms frame (960 samples at 48 kHz). */
  encode(samples: Int16Array): Uint8Array {
    if (samples.length !== OPUS_FRAME_SAMPLES) {
      throw new AudioFormatError(
        `Opus frames are ${OPUS_FRAME_SAMPLES} samples (20 ms at 48 kHz), got ${samples.length}`,
      );
    }
    return this.encoder.encode(samples);
  }
}

/**
 * Decodes Opus packets to mono PCM16 at 48 kHz. A stereo stream is downmixed by libopus itself (a mono
 * decoder sums the channels), so a browser sending stereo needs no special handling.
 */
export class OpusDecoder {
  private readonly decoder = new Decoder({ channels: 1, sample_rate: OPUS_SAMPLE_RATE });

  /** Throws AudioFormatError for a packet libopus refuses. */
  decode(packet: Uint8Array): Int16Array {
    if (packet.byteLength === 0) throw new AudioFormatError('empty Opus packet');
    let bytes: Uint8Array;
    try {
      bytes = this.decoder.decode(packet);
    } catch (error) {
      throw new AudioFormatError(`undecodable Opus packet: ${(error as Error).message}`);
    }
    if (bytes.byteLength % 2 !== 0 || bytes.byteLength / 2 > MAX_PACKET_SAMPLES) {
      throw new AudioFormatError(`Opus decoder returned ${bytes.byteLength} bytes`);
    }
    // Little-endian PCM16 (every platform the bindings ship for is little-endian).
    const aligned = bytes.byteOffset % 2 === 0 ? bytes : bytes.slice();
    return new Int16Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 2);
  }

  /** Forgets the decoder's state, e.g. after a gap in the stream. */
  reset(): void {
    this.decoder.reset();
  }
}
