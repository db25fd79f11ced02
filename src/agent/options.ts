import type { ContextManagerOptions } from '../context/manager.ts';
import type { ContextPolicyOptions } from '../context/policy.ts';
import type { Clock } from '../metrics/clock.ts';
import type { LLM } from '../providers/llm/contract.ts';
import type { STT } from '../providers/stt/contract.ts';
import type { TTS } from '../providers/tts/contract.ts';
import type { TurnDetector } from '../providers/turn/contract.ts';
import type { VAD } from '../providers/vad/contract.ts';
import type { ToolEntry } from '../tools/tool.ts';
import type { ApologyAudioCache } from './apology.ts';
import type { SentenceChunkerOptions } from './chunker.ts';
import { DEFAULT_ENDPOINTING_POLICY, type EndpointingPolicyOptions } from './endpointing-policy.ts';
import type { LanguageOptions } from './language-switch.ts';
import type { ResponseCacheBinding } from './reply-cache.ts';

/**
 * When to commit a user turn: the wait after the last voiced audio is a function of the detector's end-of-turn
 * probability, raised towards this user's own in-turn pauses (see endpointing-policy.ts for every field).
 */
export interface EndpointingOptions extends EndpointingPolicyOptions {
  /** Deprecated alias of `confidentAbove`: the probability at or above which `minDelayMs` applies. */
  turnCompleteThreshold?: number;
  /** How long to wait for the STT's final transcript after speech ends before giving the turn up. */
  finalTranscriptTimeoutMs: number;
  /**
   * New speech that really began before a commit, or at most this long after it, continues the committed turn
   * when its reply has not been heard (the VAD confirms speech ~100-200 ms after it begins, so a commit can
   * land in between and split one sentence in two). 0: only speech that began before the commit.
   */
  resumeMergeGraceMs: number;
  /**
   * A committed turn is taken back only while its reply has played at the client for no more than this: past
   * it the user has heard the agent, and the interruption rules decide.
   */
  resumeMergeMaxHeardMs: number;
}

export interface InterruptionOptions {
  enabled: boolean;
  /** Words of transcript needed to confirm an interruption (0: any speech confirms it). */
  minWords: number;
  /** After speech that produced no transcript, resume the paused reply once this much silence has passed. */
  falseInterruptionTimeoutMs: number;
  /** Resume after a false interruption; off means the paused reply is abandoned. */
  resumeFalseInterruption: boolean;
  /** Short acknowledgements that never interrupt the agent. */
  backchannels: readonly string[];
}

export interface LongToolOptions {
  /** A tool still running after this long gets one short spoken status line. */
  statusAfterMs: number;
  /** The status line ('' for none). Not recorded in the history: it is filler, like a thinking sound. */
  statusText: string;
  /** Spoken when a tool hits `toolTimeoutMs`; the reply ends there. */
  timeoutApology: string;
  /**
   * Utterances that cancel a running tool even where an utterance would not interrupt the agent (interruptions
   * off, or fewer words than `interruption.minWords`).
   */
  cancelPhrases: readonly string[];
}

export interface ProviderFailureOptions {
  /**
   * The whole wait for an LLM request's first output (a token or a tool call), retries and fallback providers
   * included: past it the request is given up and the user hears the apology. One budget, not attempts × timeout.
   */
  firstTokenBudgetMs: number;
  /**
   * Said when the LLM or the TTS fails, in the session's voice: synthesized once ahead of need (so it plays
   * even when the TTS is what failed), else live. '' turns the spoken apology off (the error event still goes out).
   */
  apology: string;
  /**
   * A sentence sent to the TTS that gets no audio for this long means the TTS has failed (it hangs): the reply
   * ends there with the apology instead of waiting out the provider's own timeouts and retries.
   */
  ttsStallTimeoutMs: number;
  /**
   * Synthesize the apology ahead of need (when the session's first reply starts) and keep it. Off: it is
   * synthesized when a failure needs it (no help if the TTS is what failed).
   */
  presynthesizeApology: boolean;
  /**
   * How long a failure may wait for apology audio that is not ready yet (the start-up synthesis still running, or
   * a live synthesis) before a short tone is played instead, so the user never waits in silence.
   */
  apologyAudioTimeoutMs: number;
}

export interface AgentSessionOptions {
  vad: VAD;
  stt: STT;
  llm: LLM;
  tts: TTS;
  turnDetector?: TurnDetector;
  /** Tools defined in code and tool sources (an MCP toolset) whose list may change while the session runs. */
  tools?: readonly ToolEntry[];
  instructions?: string;
  clock?: Clock;
  sessionId?: string;
  /** The session's language (ISO 639-1 or BCP-47); with `languages`, the first of them when absent. */
  language?: string;
  /** Languages the session may switch to mid-call, and what follows a switch (agent/language-switch.ts). */
  languages?: LanguageOptions;
  endpointing?: Partial<EndpointingOptions>;
  interruption?: Partial<InterruptionOptions>;
  /** Start the LLM on the final transcript before the end of turn is confirmed. */
  preemptiveGeneration?: boolean;
  /** LLM rounds (each may call tools) within one reply. */
  maxToolSteps?: number;
  /** Hard limit for one tool call. */
  toolTimeoutMs?: number;
  /** What the agent says and accepts while a tool runs long. */
  longTools?: Partial<LongToolOptions>;
  chunker?: SentenceChunkerOptions;
  /**
   * The sentence budget of one spoken reply: at this many sentences the LLM is stopped and the reply ends there,
   * at a sentence boundary (what is said and what the history keeps). A voice reply is short; the LLM's token
   * limit stays as a safety net. Unset or 0: no budget (the configuration's default, for serve and talk, is 3).
   */
  maxReplySentences?: number;
  /**
   * No LLM is configured: the session says this notice when it starts and answers every turn (typed or spoken)
   * with it, never asking the LLM. It is spoken to its end (the user talking does not cut it), and a turn that
   * comes while it is being said is answered by it, not by another.
   */
  llmUnavailableNotice?: string;
  /** What happens when a provider fails: the first-token budget and the spoken apology. */
  providerFailure?: Partial<ProviderFailureOptions>;
  /** The synthesized apology, shared with the process's other sessions (one synthesis per voice). */
  apologyCache?: ApologyAudioCache;
  /** Replies already known (src/cache/response-cache.ts): which turns may use it is src/agent/reply-cache.ts. */
  responseCache?: ResponseCacheBinding;
  /** Keeps the prompt within a token budget: window, summaries, pruning (see src/context/policy.ts). */
  context?: Partial<ContextPolicyOptions>;
  /** Writes the context summaries (may be a cheaper model). Default: the session's LLM (a sibling of it). */
  summarizer?: LLM;
  /** Passages from the user's documents for each turn's prompt (a DocsIndex, src/context/retrieval.ts). */
  retrieval?: ContextManagerOptions['retrieval'];
}

export const DEFAULT_ENDPOINTING: EndpointingOptions = {
  ...DEFAULT_ENDPOINTING_POLICY,
  finalTranscriptTimeoutMs: 2000,
  resumeMergeGraceMs: 200,
  resumeMergeMaxHeardMs: 400,
};

export const DEFAULT_INTERRUPTION: InterruptionOptions = {
  enabled: true,
  minWords: 1,
  falseInterruptionTimeoutMs: 1000,
  resumeFalseInterruption: true,
  backchannels: [
    'mm-hmm',
    'mhm',
    'mm',
    'hmm',
    'uh-huh',
    'uh huh',
    'yeah',
    'yep',
    'right',
    'okay',
    'ok',
    'i see',
    'sure',
  ],
};

export const DEFAULT_LONG_TOOLS: LongToolOptions = {
  statusAfterMs: 2500,
  statusText: 'Still working on it.',
  timeoutApology: 'Sorry, that is taking too long, so I stopped it.',
  cancelPhrases: [
    'cancel',
    'cancel that',
    'cancel it',
    'stop',
    'stop that',
    'stop it',
    'never mind',
    'abort',
  ],
};

export const DEFAULT_PROVIDER_FAILURE: ProviderFailureOptions = {
  firstTokenBudgetMs: 8_000,
  ttsStallTimeoutMs: 5_000,
  apology: 'Sorry, something went wrong. Could you say that again?',
  presynthesizeApology: true,
  apologyAudioTimeoutMs: 1_000,
};

/** The defaults under `given`, checked: a budget or timeout that is not a positive number of ms is refused. */
export function resolveProviderFailureOptions(
  given: Partial<ProviderFailureOptions> = {},
): ProviderFailureOptions {
  const options = { ...DEFAULT_PROVIDER_FAILURE, ...given };
  for (const key of ['firstTokenBudgetMs', 'ttsStallTimeoutMs', 'apologyAudioTimeoutMs'] as const) {
    const value = options[key];
    if (!Number.isFinite(value) || value <= 0)
      throw new RangeError(`providerFailure.${key} must be a positive number of ms, got ${value}`);
  }
  if (typeof options.apology !== 'string') throw new TypeError('providerFailure.apology must be a string');
  return options;
}
