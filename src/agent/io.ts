import type { AudioFrame } from '../audio/frame.ts';

/** What a transport reports about one playout: the ground truth of what the user heard. */
export interface PlayoutReceipt {
  /** Session-clock time the first sample was heard at the client; null if nothing was. */
  firstPlayedAtMs: number | null;
  finishedAtMs?: number;
  /** Set when `signal` stopped it: when the audio stopped at the client. */
  interruptedAtMs?: number;
  /** Audio actually played, in ms. */
  playedMs: number;
  /**
   * The output is gone for good (the client hung up or the connection failed): nothing more can be heard, so
   * the speech ends instead of playing again. Set together with `interruptedAtMs`.
   */
  outputClosed?: boolean;
}

export interface PlayOptions {
  signal: AbortSignal;
  /** Frames whose speechId differs belong to an older speech and must be dropped. */
  speechId: number;
  /** Called once, when the first sample is heard at the client. */
  onFirstPlayed?(atMs: number): void;
}

/** The agent's view of a transport's audio output (see ARCHITECTURE.md, Transport contract). */
export interface AudioOutput {
  /** Preferred sample rate; frames arrive at the TTS's native rate and the transport resamples. */
  readonly sampleRate?: number;
  /** True once the client is gone for good; `play()` then resolves at once with `outputClosed`. */
  readonly isClosed?: boolean;
  /**
   * Plays frames as they arrive; resolves when they are all played, when `signal` aborts, or when the output
   * closes (`outputClosed` on the receipt). It never resolves "stopped" in a loop without waiting on something.
   */
  play(frames: AsyncIterable<AudioFrame>, options: PlayOptions): Promise<PlayoutReceipt>;
  /** Drops anything buffered, at once. */
  clear(): void;
}
