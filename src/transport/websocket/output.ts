import type { WebSocket } from 'ws';
import { bytesFromInt16 } from '../../audio/frame.ts';
import type { AudioSink } from '../playout.ts';

/** The agent's speech to a WebSocket client: binary PCM16 little-endian mono frames at `sampleRate`. */
export class WebSocketAudioSink implements AudioSink {
  constructor(
    private readonly socket: WebSocket,
    readonly sampleRate: number,
  ) {}

  isOpen(): boolean {
    return this.socket.readyState === this.socket.OPEN;
  }

  sendAudio(samples: Int16Array): void {
    this.socket.send(bytesFromInt16(samples));
  }
}
