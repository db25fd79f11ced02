import { type AudioFrame, frameDurationMs } from '../audio/frame.ts';
import type { Clock } from '../metrics/clock.ts';
import type { AudioOutput, PlayOptions, PlayoutReceipt } from './io.ts';

export interface PlayedFrame {
  speechId: number | undefined;
  startMs: number;
  durationMs: number;
  /** The audio heard, when `keepAudio` is on. */
  samples?: Int16Array;
  sampleRate: number;
}

export interface PacedAudioOutputOptions {
  clock: Clock;
  /** Network + jitter buffer: time from handing a frame over to the client hearing it. */
  latencyMs?: number;
  /** Play frames in real time on the clock; off plays them instantly (for overhead benchmarks). */
  realTime?: boolean;
  /** Keep the samples of what was heard (the file transport writes them out). */
  keepAudio?: boolean;
  /** After an abort, the audio stops at the client this much later (a remote player's "stopped" receipt). */
  stopLatencyMs?: number;
}

/**
 * An output that plays frames in real time on the session clock and records exactly what was heard and when,
 * including frames it refused for carrying a stale speech id. The file transport writes what it recorded to a
 * WAV; tests use it as the transport contract's double.
 */
export class PacedAudioOutput implements AudioOutput {
  readonly played: PlayedFrame[] = [];
  readonly rejectedStaleFrames: AudioFrame[] = [];
  readonly receipts: PlayoutReceipt[] = [];
  clears = 0;
  private readonly latencyMs: number;
  private readonly realTime: boolean;

  constructor(private readonly options: PacedAudioOutputOptions) {
    this.latencyMs = options.latencyMs ?? 0;
    this.realTime = options.realTime ?? true;
  }

  async play(frames: AsyncIterable<AudioFrame>, options: PlayOptions): Promise<PlayoutReceipt> {
    const { clock } = this.options;
    const { signal } = options;
    let firstPlayedAtMs: number | null = null;
    let playedMs = 0;
    const stop = async (): Promise<PlayoutReceipt> => {
      if (this.options.stopLatencyMs) await clock.sleep(this.options.stopLatencyMs);
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
        const played: PlayedFrame = {
          speechId: frame.speechId,
          startMs,
          durationMs,
          sampleRate: frame.sampleRate,
        };
        if (this.options.keepAudio) played.samples = frame.samples;
        this.played.push(played);
        if (this.realTime) {
          try {
            await clock.sleep(durationMs, signal);
          } catch {
            const heard = Math.min(durationMs, clock.now() - startMs);
            played.durationMs = heard;
            played.samples = played.samples?.subarray(0, Math.round((heard * frame.sampleRate) / 1000));
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
