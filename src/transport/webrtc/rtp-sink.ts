import { randomInt } from 'node:crypto';
import { RtpHeader, RtpPacket } from 'werift';
import {
  OPUS_FRAME_MS,
  OPUS_FRAME_SAMPLES,
  OPUS_SAMPLE_RATE,
  OpusEncoder,
  type OpusEncoderOptions,
} from '../../audio/opus.ts';
import type { AudioSink } from '../playout.ts';

/** Where the RTP packets go: werift's RTCRtpSender in production, a list in tests. */
export interface RtpPacketSender {
  sendRtp(packet: RtpPacket): Promise<void>;
}

const TICKS_PER_MS = OPUS_SAMPLE_RATE / 1000;

/**
 * The agent's speech as one Opus RTP stream: 20 ms frames, sequence numbers +1 per packet, timestamps
 * +960 per contiguous frame. A gap in the schedule (between replies, after the playout ran dry) advances the
 * timestamp by the gap and sets the marker bit, so the receiver's jitter buffer sees a new talkspurt rather
 * than a late burst.
 */
export class OpusRtpSink implements AudioSink {
  readonly sampleRate = OPUS_SAMPLE_RATE;
  private readonly encoder: OpusEncoder;
  private sequenceNumber = randomInt(0, 0x10000);
  private timestamp = randomInt(0, 0x100000000);
  private lastDueMs: number | undefined;
  private failures = 0;

  constructor(
    private readonly sender: RtpPacketSender,
    private readonly isConnected: () => boolean,
    private readonly onSendError: (error: Error) => void = () => {},
    encoder: OpusEncoderOptions = {},
  ) {
    this.encoder = new OpusEncoder(encoder);
  }

  isOpen(): boolean {
    return this.isConnected();
  }

  sendAudio(samples: Int16Array, dueMs: number): void {
    let marker = false;
    if (this.lastDueMs === undefined) marker = true;
    else {
      const stepMs = dueMs - this.lastDueMs;
      const contiguous = stepMs <= OPUS_FRAME_MS + 0.5;
      this.timestamp += contiguous ? OPUS_FRAME_SAMPLES : Math.round(stepMs * TICKS_PER_MS);
      marker = !contiguous;
    }
    this.lastDueMs = dueMs;
    this.sequenceNumber = (this.sequenceNumber + 1) & 0xffff;
    const frame = samples.length === OPUS_FRAME_SAMPLES ? samples : padded(samples);
    const header = new RtpHeader({
      payloadType: 111, // werift rewrites it to the negotiated Opus payload type
      sequenceNumber: this.sequenceNumber,
      timestamp: this.timestamp >>> 0,
      marker,
    });
    this.sender.sendRtp(new RtpPacket(header, Buffer.from(this.encoder.encode(frame)))).catch((error) => {
      // One report, not one per 20 ms packet.
      if (this.failures++ === 0) this.onSendError(error instanceof Error ? error : new Error(String(error)));
    });
  }
}

/** The last chunk of a reply is shorter than a frame; Opus needs whole frames, so it ends in silence. */
function padded(samples: Int16Array): Int16Array {
  const frame = new Int16Array(OPUS_FRAME_SAMPLES);
  frame.set(samples.subarray(0, OPUS_FRAME_SAMPLES));
  return frame;
}
