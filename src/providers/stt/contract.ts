import type { AudioFrame } from '../../audio/frame.ts';

export interface Transcript {
  text: string;
  confidence?: number;
  language?: string;
  /** Session-clock span of the audio this text covers. */
  startMs: number;
  endMs: number;
}

export interface SttListener {
  /** A hypothesis that may still change, while the user speaks. */
  onInterim(transcript: Transcript): void;
  /** Settled text for a stretch of speech. One user turn may produce several finals. */
  onFinal(transcript: Transcript): void;
  /** A failure of the stream; the session logs it and keeps going. */
  onError?(error: Error): void;
}

export interface SttStreamOptions {
  language?: string;
  signal?: AbortSignal;
}

export interface SttStream {
  /** 16 kHz mono frames in order. */
  push(frame: AudioFrame): void;
  /** End-of-speech hint: finalise what was heard so far now rather than waiting for more audio. */
  flush(): void;
  close(): void;
}

export interface STT {
  readonly name: string;
  stream(listener: SttListener, options?: SttStreamOptions): SttStream;
}
