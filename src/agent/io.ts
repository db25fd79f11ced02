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
  /** Plays frames as they arrive; resolves when they are all played or when `signal` aborts. */
  play(frames: AsyncIterable<AudioFrame>, options: PlayOptions): Promise<PlayoutReceipt>;
  /** Drops anything buffered, at once. */
  clear(): void;
}
