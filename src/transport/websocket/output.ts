import type { WebSocket } from 'ws';
import { bytesFromInt16 } from '../../audio/frame.ts';
import type { AudioSink } from '../playout.ts';

/** The agent's speech to a WebSocket client: binary PCM16 little-endian mono frames at `sampleRate`. */
export class WebSocketAudioSink implements AudioSink {
  constructor(
    private readonly socket: WebSocket,
    readonly sampleRate: number,
    /** Called after a send while the client has more than this much audio unread (it is not reading). */
    private readonly maxUnsentMs = Number.POSITIVE_INFINITY,
    private readonly onBacklog: (unsentMs: number) => void = () => {},
  ) {}

  isOpen(): boolean {
    return this.socket.readyState === this.socket.OPEN;
  }

  sendAudio(samples: Int16Array): void {
    this.socket.send(bytesFromInt16(samples));
    const unsentMs = this.unsentMs();
    if (unsentMs > this.maxUnsentMs) this.onBacklog(unsentMs);
  }

  /**
   * Audio this process still holds for the client, in ms: what ws and the socket have queued because the
   * kernel's buffers toward the client are full (the peer stopped reading). JSON messages count too, as audio.
   */
  unsentMs(): number {
    return (this.socket.bufferedAmount * 1000) / (2 * this.sampleRate);
  }
}
