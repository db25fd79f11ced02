import type { ChatMessage } from '../llm/contract.ts';

/**
 * Prosodic features of the end of a user turn, measured on the 16 kHz audio the session already has
 * (see src/audio/prosody.ts). Every field is null when the audio had too little voiced signal to say.
 */
export interface ProsodyFeatures {
  /** Pitch movement over the last voiced 300 ms, semitones per second (negative: falling, as statements end). */
  pitchSlopeStPerSec: number | null;
  /** Last voiced pitch relative to the turn's median pitch, semitones (low: a final fall). */
  finalPitchSt: number | null;
  /** Mean energy of the last voiced 300 ms relative to the turn's voiced mean, dB (negative: trailing off). */
  energyDecayDb: number | null;
  /** Length of the last voiced stretch relative to the turn's median voiced stretch (> 1: final lengthening). */
  finalLengthening: number | null;
  /** Voiced audio the features were measured on, ms. */
  voicedMs: number;
}

/** What a cloud STT said about the end of the utterance: an input to the decision, never the decision itself. */
export interface SttTurnSignals {
  /** The STT's own endpointer fired (Deepgram `speech_final`, OpenAI realtime server VAD `speech_stopped`). */
  endpointed?: boolean;
  /** The STT saw a gap after the last word (Deepgram `UtteranceEnd`). */
  utteranceEnd?: boolean;
  /** Which STT said so, for the turn record. */
  source?: string;
}

export interface TurnDetectorInput {
  /** What the user said this turn so far. */
  transcript: string;
  history: readonly ChatMessage[];
  signal?: AbortSignal;
  /** BCP-47 language of the turn when known (`en`, `en-US`); detectors that only know English say so. */
  language?: string;
  /** Prosody of the turn's audio up to the pause being judged. */
  prosody?: ProsodyFeatures;
  /** The last voiced audio of the turn (16 kHz mono PCM16), for detectors that measure it themselves. */
  audio?: Int16Array;
  /** Turn signals of the STT in use, when it sends any. */
  stt?: SttTurnSignals;
}

/** Per-signal probabilities behind one decision, for the turn record and the benchmark. */
export type TurnSignalValues = Record<string, number>;

/** Semantic end-of-turn detection: how likely is it that the user has finished speaking? */
export interface TurnDetector {
  readonly name: string;
  endOfTurnProbability(input: TurnDetectorInput): number | Promise<number>;
  /** The probability and the signals it was made of (detectors that combine several signals implement it). */
  explain?(input: TurnDetectorInput): Promise<{ probability: number; signals: TurnSignalValues }>;
  /** Releases native resources or model contexts; safe to call twice. */
  close?(): void | Promise<void>;
}
