import { refersToEarlierTurns, replyRefersToEarlierTurns } from '../cache/context-free.ts';
import type { ResponseCache, ResponseHit } from '../cache/response-cache.ts';
import type { TurnCacheMetrics } from '../metrics/schema.ts';
import type { ChatMessage } from '../providers/llm/contract.ts';
import type { Speech } from './speech.ts';

/** A process's response cache as one agent sees it (AgentSessionOptions.responseCache). */
export interface ResponseCacheBinding {
  cache: ResponseCache;
  /** `ResponseCache.scopeKey` of this agent's instructions, version, model and tools. */
  scope: string;
  /**
   * Which replies are learned: `firstTurn` (default) only replies made with no earlier user turn in the prompt,
   * so nothing said before could have shaped them; `anyTurn` also later ones whose question stands alone.
   */
  storeFrom?: 'firstTurn' | 'anyTurn';
}

export interface ReplyLookup {
  response: TurnCacheMetrics['response'];
  hit?: ResponseHit;
}

/**
 * The turn loop's side of the response cache: which turns may be answered from it and which replies it learns.
 * A turn is looked up only when its words stand alone (no pronoun or follow-up marker pointing back, not a
 * fragment); a reply is learned only when it completed, called no tool, does not itself point back, and (by
 * default) was made without earlier user turns in its prompt.
 */
export class SessionReplyCache {
  constructor(private readonly binding: ResponseCacheBinding) {}

  /** Before the user's words enter the history; `signal` ends the wait (the session closing). */
  async lookup(transcript: string, signal?: AbortSignal): Promise<ReplyLookup> {
    if (refersToEarlierTurns(transcript)) return { response: 'skipped' };
    const hit = await this.binding.cache.lookup(this.binding.scope, transcript, signal);
    return hit ? { response: 'hit', hit } : { response: 'miss' };
  }

  /** Whether `transcript` would be answered by an exact match (no embedding call): nothing to prepare for it. */
  knows(transcript: string): boolean {
    return !refersToEarlierTurns(transcript) && this.binding.cache.hasExact(this.binding.scope, transcript);
  }

  /** Learns `speech`'s reply to `transcript` once it has ended, if it may be reused. */
  observe(speech: Speech, transcript: string, lookup: ReplyLookup, history: readonly ChatMessage[]): void {
    if (lookup.response !== 'miss' || this.binding.cache.mode !== 'auto') return;
    // Read now, before the turn's own words enter the history.
    const earlierUserTurns = history.some((m) => m.role === 'user');
    if (earlierUserTurns && (this.binding.storeFrom ?? 'firstTurn') === 'firstTurn') return;
    speech.finished.then(
      (result) => {
        if (result.outcome !== 'completed' || result.steps.length !== 1) return;
        const [step] = result.steps;
        if (step.toolCalls.length > 0 || !step.text.trim() || replyRefersToEarlierTurns(step.text)) return;
        const { llmRequestAt, llmFirstTokenAt } = speech.marks;
        const savedMs =
          llmRequestAt !== undefined && llmFirstTokenAt !== undefined ? llmFirstTokenAt - llmRequestAt : 0;
        this.binding.cache.store(this.binding.scope, transcript, step.text.trim(), savedMs);
      },
      () => undefined,
    );
  }
}
