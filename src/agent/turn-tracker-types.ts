import type { TurnSignalValues } from '../providers/turn/contract.ts';
import type { AudioProgress } from './heard-silence.ts';

/** What the turn tracker hands over, is told, and reads. */

export interface CommittedTurn {
  transcript: string;
  speechStartAt: number;
  endOfSpeechAt: number;
  finalTranscriptAt: number;
  committedAt: number;
  /** The detector's end-of-turn probability behind the commit (undefined: it never answered in time). */
  endOfTurnProbability?: number;
  /** The silence the policy chose to wait after the last voiced audio, ms. */
  endpointingDelayMs?: number;
  /** The signals the probability was made of, when the detector explains itself. */
  turnSignals?: TurnSignalValues;
  /**
   * Earlier commits of this turn taken back because the user resumed before hearing the reply (the VAD confirms
   * new speech ~100-200 ms after it begins, so a commit can land in between). Absent: none.
   */
  resumeMerges?: number;
}

export interface TurnTrackerEvents {
  /**
   * The transcript is final (the user is silent, or still inside the VAD's silence wait): a reply may be
   * prepared (not played).
   */
  onCandidate(transcript: string): void;
  onCommit(turn: CommittedTurn): void;
  /** Speech ended and no words came of it. */
  onNoise(): void;
  /**
   * The STT never settled within `finalTranscriptTimeoutMs`, so its last interim stands in for the final: clients
   * shown the interims must be told it is final now, or what they show never settles.
   */
  onInterimPromoted?(text: string): void;
  /** The detector threw, rejected or returned no number; the word list decided instead. */
  onDetectorError?(error: unknown): void;
  /**
   * The user began speaking again at `onsetMs`, no later than `resumeMergeGraceMs` after `turn` was committed.
   * Return true when the commit was taken back (its reply cancelled, unheard): the tracker then continues that
   * turn, and the words that follow join it. False (or a throw): the commit stands and this is new speech.
   */
  onResumeAfterCommit?(turn: CommittedTurn, onsetMs: number): boolean;
}

export interface TurnTrackerInputs {
  /** Language of the session, passed to the detector. */
  language?: string;
  /** The session language now, when it can change mid-call (wins over `language`). */
  currentLanguage?: () => string;
  /** How far the user's audio has been heard: a commit waits for the silence it rests on (heard-silence.ts). */
  audioProgress?: () => AudioProgress | undefined;
  /** Whether the STT is still working on audio it was given: the wait for its final goes on (final-wait.ts). */
  sttBusy?: () => boolean;
}
