import type { ContextStats } from '../context/window.ts';
import type { TurnMetrics } from '../metrics/schema.ts';
import type { Speech } from './speech.ts';
import type { CommittedTurn } from './turn-tracker.ts';

/** The session's current speech and what its turn record needs when it ends. */
export interface ActiveSpeech {
  speech: Speech;
  turnId: number | null;
  turn?: CommittedTurn;
  preemptive: TurnMetrics['preemptive'];
  sttAudioMs: number;
  /** Provider switches (all kinds) counted when the speech became active. */
  fallbacksAtStart?: number;
  /** The prompt's context counts (LLM replies only). */
  context?: ContextStats;
  /** Spoken to its end whatever the user does: no barge-in, a turn waits for it (the no-model notice). */
  holdsFloor?: boolean;
  /** It is the no-model notice: a turn committed while it plays has been answered by it. */
  isNotice?: boolean;
}
