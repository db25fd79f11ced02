import { type AudioFrame, frameDurationMs } from '../audio/frame.ts';
import type { Clock } from '../metrics/clock.ts';
import type { AudioOutput, PlayOptions, PlayoutReceipt } from './io.ts';

export interface PlayedFrame {
  speechId: number | undefined;
  startMs: number;
  durationMs: number;
}

export interface SimulatedAudioOutputOptions {
  clock: Clock;
  /** Network + jitter buffer: time from handing a frame over to the client hearing it. */
  latencyMs?: number;
  /** Play frames in real time on the clock; off plays them instantly (for overhead benchmarks). */
  realTime?: boolean;
}

/**
 * The transport contract's test double: a client that plays frames in real time on the session clock and
 * records exactly what was heard and when, including frames it refused for carrying a stale speech id.
 */
export class SimulatedAudioOutput implements AudioOutput {
  readonly played: PlayedFrame[] = [];
  readonly rejectedStaleFrames: AudioFrame[] = [];
  readonly receipts: PlayoutReceipt[] = [];
  clears = 0;
  private readonly latencyMs: number;
  private readonly realTime: boolean;

  constructor(private readonly options: SimulatedAudioOutputOptions) {
    this.latencyMs = options.latencyMs ?? 0;
    this.realTime = options.realTime ?? true;
  }

  async play(frames: AsyncIterable<AudioFrame>, options: PlayOptions): Promise<PlayoutReceipt> {
    const { clock } = this.options;
    const { signal } = options;
    let firstPlayedAtMs: number | null = null;
    let playedMs = 0;
    const stop = (): PlayoutReceipt => {
      const receipt = { firstPlayedAtMs, interruptedAtMs: clock.now(), playedMs };
      this.receipts.push(receipt);
      return receipt;
    };
    try {
      for await (const frame of frames) {
        if (signal.aborted) return stop();
        if (frame.speechId !== options.speechId) {
          this.rejectedStaleFrames.push(frame);
          continue;
        }
        if (firstPlayedAtMs === null) {
          if (this.latencyMs > 0) await clock.sleep(this.latencyMs, signal);
          firstPlayedAtMs = clock.now();
          options.onFirstPlayed?.(firstPlayedAtMs);
        }
        const durationMs = frameDurationMs(frame);
        const startMs = clock.now();
        this.played.push({ speechId: frame.speechId, startMs, durationMs });
        if (this.realTime) {
          try {
            await clock.sleep(durationMs, signal);
          } catch {
            const heard = clock.now() - startMs;
            this.played[this.played.length - 1].durationMs = heard;
            playedMs += heard;
            return stop();
          }
        }
        playedMs += durationMs;
      }
    } catch (error) {
      if (!signal.aborted) throw error;
      return stop();
    }
    if (signal.aborted) return stop();
    const receipt = { firstPlayedAtMs, finishedAtMs: clock.now(), playedMs };
    this.receipts.push(receipt);
    return receipt;
  }

  clear(): void {
    this.clears++;
  }

  /** Total audio heard of one speech, in ms. */
  playedMsOf(speechId: number): number {
    return this.played.filter((f) => f.speechId === speechId).reduce((sum, f) => sum + f.durationMs, 0);
  }

  /** When the last audio of a speech stopped. */
  lastPlayedEndOf(speechId: number): number | undefined {
    const frames = this.played.filter((f) => f.speechId === speechId);
    const last = frames.at(-1);
    return last ? last.startMs + last.durationMs : undefined;
  }
}
