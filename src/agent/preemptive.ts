import type { ChatHistory } from '../context/history.ts';
import type { ContextManager } from '../context/manager.ts';
import type { ContextStats } from '../context/window.ts';
import type { TurnMetrics } from '../metrics/schema.ts';
import type { Speech, SpeechSource } from './speech.ts';

export interface PreemptiveGenerationDeps {
  context: ContextManager;
  history: ChatHistory;
  createSpeech(source: SpeechSource): Speech;
}

/** What a committed turn gets from preemptive generation. */
export interface ClaimedReply {
  /** How the turn used a prepared reply: the turn metric `preemptive`. */
  preemptive: TurnMetrics['preemptive'];
  /** The prepared reply, when it was made for exactly this turn. */
  speech?: Speech;
  context?: ContextStats;
}

interface Candidate {
  speech: Speech;
  transcript: string;
  historyLength: number;
  context: ContextStats;
}

/**
 * Preemptive generation: once the transcript is final and the user is silent, a reply to it starts before the
 * turn is committed (generated but held, never played), so the endpointing delay hides the LLM's and TTS's first
 * latency. A committed turn takes it only if its words are the same and the history has not moved since;
 * anything else throws it away.
 */
export class PreemptiveGeneration {
  private candidate: Candidate | undefined;
  /** A reply prepared for this turn was thrown away because the user went on speaking. */
  private discardedThisTurn = false;
  /** Transcripts no reply is prepared for: their reply is already known (src/agent/reply-cache.ts). */
  private known: (transcript: string) => boolean = () => false;

  constructor(private readonly deps: PreemptiveGenerationDeps) {}

  /** No LLM call is started ahead for a transcript `known` accepts (the response cache will answer it). */
  skipKnown(known: (transcript: string) => boolean): void {
    this.known = known;
  }

  /**
   * Starts a reply to `transcript`, unless one is prepared for it already. The session calls this only when
   * the option is on and the agent is silent.
   */
  prepare(transcript: string): void {
    const { context, history } = this.deps;
    if (this.candidate?.transcript === transcript || !context.isReady) return;
    this.discard();
    if (this.known(transcript)) return;
    const prompt = context.prompt(history.messages, { role: 'user', content: transcript });
    this.candidate = {
      speech: this.deps.createSpeech({ kind: 'llm', messages: prompt.messages }),
      transcript,
      historyLength: history.length,
      context: prompt.stats,
    };
  }

  /** The user went on speaking (or typed): the prepared reply is stale. */
  discard(): void {
    if (!this.candidate) return;
    this.candidate.speech.abort('discarded');
    this.candidate = undefined;
    this.discardedThisTurn = true;
  }

  /** Hands the prepared reply to a committed turn if it fits it (call before the turn enters the history). */
  claim(transcript: string): ClaimedReply {
    const preemptive = this.discardedThisTurn ? 'discarded' : 'none';
    this.discardedThisTurn = false;
    const candidate = this.candidate;
    this.candidate = undefined;
    if (!candidate) return { preemptive };
    const reusable =
      candidate.transcript === transcript &&
      candidate.historyLength === this.deps.history.length &&
      !candidate.speech.signal.aborted;
    if (reusable) return { preemptive: 'reused', speech: candidate.speech, context: candidate.context };
    candidate.speech.abort('discarded');
    return { preemptive: 'discarded' };
  }

  /** The session is closing: the prepared reply goes, and no turn is left to count it as discarded. */
  close(): void {
    this.candidate?.speech.abort('discarded');
    this.candidate = undefined;
  }
}
