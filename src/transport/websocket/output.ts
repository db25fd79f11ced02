import type { WebSocket } from 'ws';
import type { AudioOutput, PlayOptions, PlayoutReceipt } from '../../agent/io.ts';
import { type AudioFrame, bytesFromInt16, frameDurationMs } from '../../audio/frame.ts';
import { Resampler } from '../../audio/resampler.ts';
import type { Clock } from '../../metrics/clock.ts';

/** Audio is sent this far ahead of real time: enough to ride out jitter, little enough to stop at once. */
const SEND_AHEAD_MS = 80;

/**
 * Sends the agent's speech to a WebSocket client as PCM16 at `sampleRate`, paced in real time so an
 * interruption leaves at most SEND_AHEAD_MS buffered at the client, which a `clear` message flushes.
 */
export class WebSocketAudioOutput implements AudioOutput {
  private resampler: Resampler | undefined;

  constructor(
    private readonly socket: WebSocket,
    private readonly clock: Clock,
    readonly sampleRate: number,
  ) {}

  async play(frames: AsyncIterable<AudioFrame>, options: PlayOptions): Promise<PlayoutReceipt> {
    const { signal, speechId } = options;
    let startedAt: number | undefined;
    let sentMs = 0;
    const playedMs = () => (startedAt === undefined ? 0 : Math.min(sentMs, this.clock.now() - startedAt));
    const stopped = (): PlayoutReceipt => ({
      firstPlayedAtMs: startedAt ?? null,
      interruptedAtMs: this.clock.now(),
      playedMs: playedMs(),
    });
    this.sendJson({ type: 'speech', speechId });
    try {
      for await (const frame of frames) {
        if (signal.aborted) return stopped();
        if (frame.speechId !== speechId) continue;
        const samples = await this.toOutputRate(frame);
        if (signal.aborted) return stopped();
        if (startedAt === undefined) {
          startedAt = this.clock.now();
          options.onFirstPlayed?.(startedAt);
        }
        const aheadMs = sentMs - (this.clock.now() - startedAt);
        if (aheadMs > SEND_AHEAD_MS) await this.clock.sleep(aheadMs - SEND_AHEAD_MS, signal);
        if (this.socket.readyState !== this.socket.OPEN) return stopped();
        this.socket.send(bytesFromInt16(samples));
        sentMs += frameDurationMs({ samples, sampleRate: this.sampleRate });
      }
      if (startedAt !== undefined)
        await this.clock.sleep(Math.max(0, sentMs - (this.clock.now() - startedAt)), signal);
    } catch (error) {
      if (signal.aborted) return stopped();
      throw error;
    }
    return { firstPlayedAtMs: startedAt ?? null, finishedAtMs: this.clock.now(), playedMs: sentMs };
  }

  clear(): void {
    this.sendJson({ type: 'clear' });
  }

  private async toOutputRate(frame: AudioFrame): Promise<Int16Array> {
    if (frame.sampleRate === this.sampleRate) return frame.samples;
    if (this.resampler?.inputRate !== frame.sampleRate) {
      this.resampler?.destroy();
      this.resampler = await Resampler.create(frame.sampleRate, this.sampleRate);
    }
    return this.resampler.process(frame.samples);
  }

  private sendJson(message: object): void {
    if (this.socket.readyState === this.socket.OPEN) this.socket.send(JSON.stringify(message));
  }

  destroy(): void {
    this.resampler?.destroy();
  }
}
