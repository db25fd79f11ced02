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
  /** A failure of the stream; the session logs it and keeps going. See `isFatalSttError`. */
  onError?(error: Error): void;
  /** Endpointing hints from engines that have them (Deepgram's SpeechStarted, speech_final, UtteranceEnd). */
  onSpeechEvent?(event: SttSpeechEvent): void;
  /** A fallback list moved this stream to its next provider (count it as a metric). */
  onFallback?(event: SttFallbackEvent): void;
}

export interface SttSpeechEvent {
  type: 'speechStarted' | 'endOfSpeech' | 'utteranceEnd';
  /** Session-clock time the engine places the event at. */
  atMs: number;
}

export interface SttFallbackEvent {
  from: string;
  to: string;
  reason: 'failed' | 'latency';
  error?: Error;
  /** Audio not yet finalised by the failing provider, replayed to the next one. */
  replayedMs: number;
}

/**
 * An error after which the stream produces nothing more (retries exhausted, a rejected key). A fallback list moves
 * on when it sees one; other errors are reports and the stream keeps going.
 */
export function isFatalSttError(error: unknown): boolean {
  return error instanceof Error && (error as { fatal?: unknown }).fatal === true;
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
  /**
   * True while the engine is still working on audio it was given (a local engine decoding a backlog, or waiting
   * for a decoder): its final is coming, just late. Engines that cannot tell (network ones) leave it out.
   */
  readonly busy?: boolean;
  close(): void;
}

export interface STT {
  readonly name: string;
  /**
   * The languages this engine transcribes (ISO 639-1 or BCP-47); absent: whatever its provider supports. A session
   * that switches to a language outside it keeps the stream it has and says so once (agent/language-switch.ts).
   */
  readonly languages?: readonly string[];
  /** Optional start-up work (load a model, check a key, open a keep-alive connection). */
  prewarm?(): Promise<void>;
  stream(listener: SttListener, options?: SttStreamOptions): SttStream;
}
