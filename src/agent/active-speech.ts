import type { ContextStats } from '../context/window.ts';
import type { TurnMetrics } from '../metrics/schema.ts';
import type { AgentState } from './events.ts';
import type { Speech } from './speech.ts';
import type { CommittedTurn } from './turn-tracker.ts';

/** The session's current speech and what its turn record needs when it ends. */
export interface ActiveSpeech {
  speech: Speech;
  turnId: number | null;
  turn?: CommittedTurn;
  preemptive: TurnMetrics['preemptive'];
  sttAudioMs: number;
  /** The session language when the speech became active (its turn record's `language`). */
  language?: string;
  /** Provider switches (all kinds) counted when the speech became active. */
  fallbacksAtStart?: number;
  /** The prompt's context counts (LLM replies only). */
  context?: ContextStats;
  /** Spoken to its end whatever the user does: no barge-in, a turn waits for it (the no-model notice). */
  holdsFloor?: boolean;
  /** It is the no-model notice: a turn committed while it plays has been answered by it. */
  isNotice?: boolean;
  /** The response cache's part in this turn (src/agent/reply-cache.ts): hit, miss, skipped; the time a hit saved. */
  replyCache?: { response: TurnMetrics['cache']['response']; savedMs: number };
}

/** The session state: what the active speech is doing, else whether the user is speaking. */
export function agentStateOf(
  idle: boolean,
  active: ActiveSpeech | undefined,
  userSpeaking: boolean,
): AgentState {
  if (idle) return 'idle';
  const speech = active?.speech;
  if (speech?.isAuthorized && !speech.isDone && !speech.isPaused) {
    return speech.hasPlayed && !speech.isWaitingForTool ? 'speaking' : 'thinking';
  }
  return userSpeaking ? 'userSpeaking' : 'listening';
}
