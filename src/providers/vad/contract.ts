import type { AudioFrame } from '../../audio/frame.ts';

export interface SpeechStartEvent {
  /** Session-clock time of the first voiced audio (from frame timestamps, not from when it was noticed). */
  atMs: number;
  probability: number;
  /**
   * How far before `atMs` the speech may really have begun: a model scores a soft onset as speech only some
   * tens of ms in. Metrics that start at the user's onset (interruptionStopMs) start this much earlier.
   */
  lookBackMs?: number;
}

export interface SpeechEndEvent {
  /** Session-clock time where the last voiced audio ended. */
  atMs: number;
  startedAtMs: number;
  probability: number;
}

export interface VadListener {
  onSpeechStart(event: SpeechStartEvent): void;
  onSpeechEnd(event: SpeechEndEvent): void;
  /**
   * A stream that detects asynchronously reports failures here (its model failed, or a listener callback threw).
   * Without it, such a stream throws the error from its next push().
   */
  onError?(error: unknown): void;
}

export interface VadStream {
  /** 16 kHz mono frames in order; events fire synchronously or shortly after, never after close(). */
  push(frame: AudioFrame): void;
  /**
   * Session-clock time up to which the pushed audio has been judged: nothing before it can still turn out to be
   * speech. A stream that scores asynchronously lags its pushed audio while it works through a backlog (a loaded
   * machine); one that judges in push() may leave this out.
   */
  readonly settledUntilMs?: number;
  close(): void;
}

export interface VAD {
  readonly name: string;
  stream(listener: VadListener): VadStream;
}
