import { type AudioFrame, PIPELINE_SAMPLE_RATE } from '../../audio/frame.ts';
import { OPUS_SAMPLE_RATE, OpusDecoder } from '../../audio/opus.ts';
import { Resampler } from '../../audio/resampler.ts';

export interface RtpAudioPacket {
  sequenceNumber: number;
  /** RTP timestamp at 48 kHz. */
  timestamp: number;
  payload: Uint8Array;
}

export interface RtpAudioInputOptions {
  /** Lost audio up to this long is filled with silence so the pipeline's timeline stays contiguous. */
  maxConcealMs?: number;
  /** Re-anchor the sender's timeline to arrival when it drifts further than this from the session clock. */
  maxDriftMs?: number;
}

const TICKS_PER_MS = OPUS_SAMPLE_RATE / 1000;

/**
 * The client's microphone from Opus RTP to 16 kHz frames on the session clock. Timing follows the sender's
 * RTP timestamps (arrival jitter and a stalled event loop do not bend it), anchored to the session clock at
 * the first packet. Duplicates and packets older than the last one are dropped; short losses become silence.
 */
export class RtpAudioInput {
  private readonly decoder = new OpusDecoder();
  private lastSequence: number | undefined;
  private expectedTimestamp: number | undefined;
  /** Session time of RTP timestamp `anchorTimestamp`. */
  private anchorMs = 0;
  private anchorTimestamp = 0;
  private endMs: number | undefined;
  private readonly maxConcealMs: number;
  private readonly maxDriftMs: number;

  private constructor(
    private readonly resampler: Resampler,
    private readonly deliver: (frame: AudioFrame) => void,
    options: RtpAudioInputOptions,
  ) {
    this.maxConcealMs = options.maxConcealMs ?? 200;
    this.maxDriftMs = options.maxDriftMs ?? 1000;
  }

  static async create(
    deliver: (frame: AudioFrame) => void,
    options: RtpAudioInputOptions = {},
  ): Promise<RtpAudioInput> {
    return new RtpAudioInput(
      await Resampler.create(OPUS_SAMPLE_RATE, PIPELINE_SAMPLE_RATE),
      deliver,
      options,
    );
  }

  /** One RTP packet that arrived at `arrivalMs`. Throws AudioFormatError for an undecodable payload. */
  push(packet: RtpAudioPacket, arrivalMs: number): void {
    if (this.lastSequence !== undefined) {
      const ahead = (packet.sequenceNumber - this.lastSequence) & 0xffff;
      if (ahead === 0 || ahead >= 0x8000) return; // a duplicate or a late packet: its moment has passed
    }
    this.lastSequence = packet.sequenceNumber;
    const samples = this.decoder.decode(packet.payload);
    const durationMs = samples.length / TICKS_PER_MS;

    const gapTicks =
      this.expectedTimestamp === undefined ? 0 : signed32(packet.timestamp - this.expectedTimestamp);
    this.expectedTimestamp = (packet.timestamp + samples.length) >>> 0;
    if (gapTicks > 0 && gapTicks / TICKS_PER_MS <= this.maxConcealMs) {
      this.emit(new Int16Array(gapTicks), packet.timestamp - gapTicks, arrivalMs - durationMs);
    }
    this.emit(samples, packet.timestamp, arrivalMs);
  }

  close(): void {
    this.resampler.destroy();
  }

  private emit(samples48k: Int16Array, rtpTimestamp: number, arrivalMs: number): void {
    const durationMs = samples48k.length / TICKS_PER_MS;
    let startMs = this.anchorMs + signed32(rtpTimestamp - this.anchorTimestamp) / TICKS_PER_MS;
    if (this.endMs === undefined || Math.abs(startMs + durationMs - arrivalMs) > this.maxDriftMs) {
      this.anchorMs = arrivalMs - durationMs;
      this.anchorTimestamp = rtpTimestamp >>> 0;
      startMs = this.anchorMs;
    }
    // Never backwards (overlapping audio would confuse the VAD's timeline), and never ending after it arrived
    // (the user's speech would be placed later than it was heard); past that, re-anchor on arrival.
    let timestampMs = this.endMs === undefined ? startMs : Math.max(startMs, this.endMs);
    if (timestampMs + durationMs > arrivalMs) {
      timestampMs = arrivalMs - durationMs;
      this.anchorMs = timestampMs;
      this.anchorTimestamp = rtpTimestamp >>> 0;
    }
    const samples = this.resampler.process(samples48k);
    this.endMs = timestampMs + durationMs;
    if (samples.length > 0) this.deliver({ samples, sampleRate: PIPELINE_SAMPLE_RATE, timestampMs });
  }
}

function signed32(value: number): number {
  return value | 0;
}
