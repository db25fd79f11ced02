import type { AudioFrame } from '../../audio/frame.ts';

export interface WordTiming {
  word: string;
  /** Relative to the start of the segment's audio. */
  startMs: number;
  endMs: number;
}

/** Audio for one flushed text segment (a sentence); frames of a segment arrive in order, segments too. */
export interface TtsAudio {
  frame: AudioFrame;
  segment: number;
  /** Word timings of the segment, on its first frame, where the engine has them. */
  words?: WordTiming[];
  /** On a segment's first frame when its quiet lead-in was trimmed (`trimLeadingSilence`). */
  trim?: TrimReport;
}

/** What the leading-silence trimmer did to one segment. */
export interface TrimReport {
  /** Quiet audio removed from the start of the segment. */
  trimmedMs: number;
  /** Where the first audible sample is in this frame (the pre-roll or gap kept in front of it). */
  audibleOffsetMs: number;
  /** Session-clock time the engine's first frame of the segment arrived (before any was dropped). */
  firstFrameAtMs?: number;
}

export interface TtsStream extends AsyncIterable<TtsAudio> {
  /** Text as the LLM writes it. */
  pushText(text: string): void;
  /** Ends the current segment: synthesise what was pushed since the last flush. */
  flush(): void;
  /** No more text; the iterable ends after the last segment's audio. */
  end(): void;
}

export interface TtsStreamOptions {
  signal: AbortSignal;
  /**
   * Told of each segment a caching wrapper (src/cache/cached-tts.ts) served from its store (`hit`, with the
   * engine time it saved) or had to synthesize; wrappers that make their own options pass it on.
   */
  onCacheLookup?(hit: boolean, savedMs: number): void;
}

export interface TTS {
  readonly name: string;
  /** Native output rate; transports resample at the edge. */
  readonly sampleRate: number;
  /**
   * The engine takes text as it is written and starts speaking before a sentence is complete (ElevenLabs'
   * WebSocket input streaming): the first text may go to it after a few words. Absent: sentence at a time.
   */
  readonly streamingInput?: boolean;
  stream(options: TtsStreamOptions): TtsStream;
  prewarm?(): Promise<void>;
  close?(): Promise<void>;
}

/** An engine that synthesises one sentence at a time; wrap it with `sentenceTts` to get a TTS. */
export interface SentenceSynthesizer {
  readonly name: string;
  readonly sampleRate: number;
  /** PCM16 chunks at `sampleRate` in order; stops promptly when `signal` aborts. */
  synthesize(text: string, signal: AbortSignal): AsyncIterable<Int16Array>;
  prewarm?(): Promise<void>;
  close?(): Promise<void>;
}
