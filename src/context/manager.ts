import type { ChatMessage, LLM } from '../providers/llm/contract.ts';
import type { TextEmbedder } from '../search/vectors.ts';
import type { HistoryItem } from './history.ts';
import { type PromptMemory, withMemoryBlock } from './memory-prompt.ts';
import { type ContextPolicyOptions, recencyPolicy, resolveContextPolicy } from './policy.ts';
import { currentUserText, HistoryRelevance } from './relevance.ts';
import { ConversationEmbeddings } from './relevance-embeddings.ts';
import { type Passage, passagesBlock } from './retrieval.ts';
import { summarize } from './summarizer.ts';
import { clipToTokens, MessageTokens, tiktokenCounter, tokenCounterFor } from './tokens.ts';
import {
  buildPrompt,
  type ContextPrompt,
  type ContextStats,
  DerivedMessages,
  planSummary,
  SUMMARY_HEADING,
  type SummaryState,
  type WindowInput,
} from './window.ts';

/** After a failed summary, the next attempt waits this long: a broken summariser must not fail every turn. */
const RETRY_AFTER_FAILURE_MS = 30_000;

export interface SummaryEvent {
  id: number;
  summary: string;
  /** History messages folded in by this summary. */
  foldedMessages: number;
  /** History messages the summary now stands in for. */
  summarizedMessages: number;
  /** Tokens of the summary as the prompt shows it. */
  tokens: number;
  durationMs: number;
  /** Session-clock time the summary was made. */
  atMs: number;
}

/** The session clock, as far as context/ needs it (structurally the metrics Clock; context/ imports no metrics). */
export interface ContextClock {
  now(): number;
  /** Runs `callback` after `ms`; returns a function that cancels it. */
  schedule(ms: number, callback: () => void): () => void;
}

export interface ContextManagerOptions {
  /** The conversation's LLM: its tokenizer counts the prompt. */
  llm: LLM;
  /** Writes the summaries. Default: a sibling of `llm` (same model, own state) when it offers one, else `llm`. */
  summarizer?: LLM;
  policy?: Partial<ContextPolicyOptions>;
  clock: ContextClock;
  onSummary?(event: SummaryEvent): void;
  onError?(error: Error): void;
  /**
   * Passages for the current user turn (a DocsIndex over the docs folder): the best go into the prompt, with their
   * source, within `policy.retrievalTokens`, before each LLM request.
   */
  retrieval?: {
    search(query: string, limit?: number, options?: { queryVector?: Float32Array }): Passage[];
    /** The docs index's embedder: the user's turns and the history are embedded with it too. */
    readonly embedder?: TextEmbedder;
    /** Ranks the passages by a user turn's embedding as soon as it arrives (kept for `search`). */
    warm?(queryVector: Float32Array): void;
  };
  /** Embeds the user's turns and the history for the relevance window and retrieval (default: retrieval's). */
  embedder?: TextEmbedder;
  /** Longest wait for the user turn's embedding before the prompt is built with BM25 alone (default 150 ms). */
  embeddingWaitMs?: number;
}

/** The context fields of a turn's metrics record (see src/metrics/schema.ts). */
export interface TurnContextMetrics {
  contextTokens: number | null;
  contextMessages: number | null;
  summarizedMessages: number;
  prunedMessages: number;
  summarizeMs: number | null;
  /** Time spent searching the docs index for this turn's prompt (null without one). */
  retrievalMs: number | null;
  retrievedPassages: number;
  retrievedTokens: number;
  /** Items from the user's earlier conversations in the prompt (memory.ts), and the tokens they added. */
  memoryItems: number;
  memoryTokens: number;
}

/**
 * Keeps one conversation's prompt within its token budget. It never writes the history (the session is its only
 * writer): it reads history snapshots and holds only the summary that stands in for older items. Summaries are
 * made in the background, one at a time; a prompt always uses the last finished one and never waits.
 */
export class ContextManager {
  readonly policy: ContextPolicyOptions;
  private readonly options: ContextManagerOptions;
  private readonly derived = new DerivedMessages();
  /** The recent window's policy (the budget less what recall of relevant older turns may take). */
  private readonly windowPolicy: ContextPolicyOptions;
  private readonly relevance: HistoryRelevance | undefined;
  private tokens: MessageTokens | undefined;
  private tokenizerReady: Promise<void> | undefined;
  private summary: SummaryState | undefined;
  /** A finished summary not yet in use: it replaces `summary` when the prompt next outgrows its budget. */
  private ready: SummaryState | undefined;
  private prunedUntilId = 0;
  private running: { controller: AbortController; done: Promise<void> } | undefined;
  private ownSummarizer: LLM | undefined;
  private nextAttemptAt = Number.NEGATIVE_INFINITY;
  private lastReportedSummaryId = 0;
  private closed = false;
  private memory: PromptMemory | undefined;
  private readonly embeddings: ConversationEmbeddings | undefined;

  /** Throws ContextPolicyError for an invalid policy. */
  constructor(options: ContextManagerOptions) {
    this.options = options;
    this.policy = resolveContextPolicy(options.policy, options.retrieval !== undefined);
    this.windowPolicy = recencyPolicy(this.policy, options.retrieval !== undefined);
    const embedder = options.embedder ?? options.retrieval?.embedder;
    if (embedder)
      this.embeddings = new ConversationEmbeddings(embedder, options.onError, (vector) =>
        options.retrieval?.warm?.(vector),
      );
    if (this.policy.recallTokens > 0) this.relevance = new HistoryRelevance(this.embeddings);
  }

  /** The user's final transcript is in: its embedding is asked for now, ahead of the prompt (with an embedder). */
  anticipate(userText: string): void {
    this.embeddings?.anticipate(userText);
  }

  /**
   * Loads the tokenizer (the model's own; tiktoken for OpenAI models). Idempotent. Never rejects: when the model's
   * tokenizer cannot be had it reports the error and counts with tiktoken's cl100k_base instead.
   */
  prepare(userText?: string): Promise<void> {
    const ready = this.tokenizer();
    if (!userText || !this.embeddings) return ready;
    // Bounded: a slow or failed embedding leaves the prompt to BM25 alone (src/context/relevance-embeddings.ts).
    const embedded = this.embeddings.wait(userText, this.options.embeddingWaitMs ?? 150, (ms, callback) =>
      this.options.clock.schedule(ms, callback),
    );
    return Promise.all([ready, embedded]).then(() => undefined);
  }

  private tokenizer(): Promise<void> {
    this.tokenizerReady ??= tokenCounterFor(this.options.llm)
      .catch(async (error: unknown) => {
        this.options.onError?.(asError(error, 'the LLM tokenizer is unavailable; counting with cl100k_base'));
        return tiktokenCounter('cl100k_base');
      })
      .then((counter) => {
        this.tokens = new MessageTokens(counter);
      });
    return this.tokenizerReady;
  }

  /** The user's memory across conversations: its items relevant to each user turn go into the prompt. */
  useMemory(memory: PromptMemory | undefined): void {
    this.memory = memory;
  }

  get isReady(): boolean {
    return this.tokens !== undefined;
  }

  get tokenizerName(): string | undefined {
    return this.tokens?.counter.name;
  }

  /** The summary prompts use now. */
  get currentSummary(): Readonly<SummaryState> | undefined {
    return this.summary;
  }

  /** The newest finished summary: the one in use, or one waiting for the prompt to need it. */
  get latestSummary(): Readonly<SummaryState> | undefined {
    return this.ready ?? this.summary;
  }

  get isSummarizing(): boolean {
    return this.running !== undefined;
  }

  /** Tokens of one message in the model's tokenizer (cached per message object). */
  countMessage(message: ChatMessage): number {
    return this.requireTokens().count(message);
  }

  /** The prompt for the next reply, from a history snapshot and an optional user message not yet in it. */
  /**
   * The prompt for the next reply, from a history snapshot and an optional user message not yet in it. A finished
   * summary goes into use only when the prompt would otherwise exceed its budget: every change of the summary
   * rewrites the prompt after the instructions, which a local model must prefill again, so the one rewrite per
   * budget cycle happens when it must and replaces the cut it makes unnecessary.
   */
  prompt(items: readonly HistoryItem[], pending?: ChatMessage): ContextPrompt {
    let prompt = buildPrompt(this.windowInput(items), pending);
    if (prompt.overLimit && this.ready) {
      this.summary = this.ready;
      this.ready = undefined;
      prompt = buildPrompt(this.windowInput(items), pending);
    }
    this.prunedUntilId = Math.max(this.prunedUntilId, prompt.prunedUntilId);
    const question = currentUserText(prompt.messages);
    const withPassages = this.withPassages(prompt);
    if (!this.memory) return withPassages;
    const room = this.policy.maxTokens - withPassages.stats.contextTokens;
    return withMemoryBlock(withPassages, question, this.memory, room, this.requireTokens());
  }

  /** The prompt with the passages retrieved for the current user turn in its last user message. */
  private withPassages(prompt: ContextPrompt): ContextPrompt {
    const { retrieval } = this.options;
    if (!retrieval) return prompt;
    const started = performance.now();
    const at = prompt.messages.findLastIndex((m) => m.role === 'user');
    const stats = { ...prompt.stats, retrievalMs: 0, retrievedPassages: 0, retrievedTokens: 0 };
    if (at >= 0) {
      const tokens = this.requireTokens();
      const question = prompt.messages[at];
      const query = currentUserText([question]);
      let passages = retrieval.search(query, 5, { queryVector: this.embeddings?.vector(query) });
      const room = Math.min(this.policy.retrievalTokens, this.policy.maxTokens - prompt.stats.contextTokens);
      while (passages.length) {
        const block = passagesBlock(passages, room, tokens.counter);
        if (!block) break;
        const message = { ...question, content: `${block.text}\n\n${question.content}` };
        const added = tokens.count(message) - tokens.count(question);
        if (added <= room) {
          const messages = [...prompt.messages];
          messages[at] = message;
          stats.contextTokens += added;
          stats.retrievedPassages = block.used;
          stats.retrievedTokens = added;
          stats.retrievalMs = performance.now() - started;
          return { ...prompt, messages, stats };
        }
        passages = passages.slice(0, block.used - 1);
      }
    }
    stats.retrievalMs = performance.now() - started;
    return { ...prompt, stats };
  }

  /**
   * Starts a summary in the background when the prompt has reached a high watermark and none is running. Call it
   * when the LLM is idle, e.g. after a reply has ended.
   */
  maybeSummarize(items: readonly HistoryItem[]): void {
    if (this.closed || this.running || this.ready || !this.tokens || !this.policy.summarize) return;
    if (this.options.clock.now() < this.nextAttemptAt) return;
    const plan = planSummary(this.windowInput(items));
    if (!plan || plan.fold.length === 0) return;
    const controller = new AbortController();
    const done = this.run(plan.fold, controller).finally(() => {
      if (this.running?.controller === controller) this.running = undefined;
    });
    this.running = { controller, done };
  }

  /** Resolves when no summary is running (benchmarks and tests; a reply never waits for this). */
  async whenIdle(): Promise<void> {
    while (this.running) await this.running.done;
  }

  /**
   * The context fields of a turn's record. `summarizeMs` is the time the summary took to make, on the first turn
   * whose prompt used it (that turn pays the prompt rewrite), null on the others.
   */
  turnMetrics(stats: ContextStats | undefined): TurnContextMetrics {
    if (!stats) {
      return {
        contextTokens: null,
        contextMessages: null,
        summarizedMessages: 0,
        prunedMessages: 0,
        summarizeMs: null,
        retrievalMs: null,
        retrievedPassages: 0,
        retrievedTokens: 0,
        memoryItems: 0,
        memoryTokens: 0,
      };
    }
    let summarizeMs: number | null = null;
    if (stats.summaryId !== null && stats.summaryId > this.lastReportedSummaryId) {
      this.lastReportedSummaryId = stats.summaryId;
      summarizeMs = stats.summaryDurationMs;
    }
    return {
      contextTokens: stats.contextTokens,
      contextMessages: stats.contextMessages,
      summarizedMessages: stats.summarizedMessages,
      prunedMessages: stats.prunedMessages,
      summarizeMs,
      retrievalMs: stats.retrievalMs === undefined ? null : Math.round(stats.retrievalMs * 1000) / 1000,
      retrievedPassages: stats.retrievedPassages ?? 0,
      retrievedTokens: stats.retrievedTokens ?? 0,
      memoryItems: stats.memoryItems ?? 0,
      memoryTokens: stats.memoryTokens ?? 0,
    };
  }

  /** Cancels a running summary and closes the summariser this manager created. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.embeddings?.close();
    const running = this.running;
    running?.controller.abort(new Error('context closed'));
    await running?.done;
    await this.ownSummarizer?.close?.().catch((error: unknown) => this.options.onError?.(asError(error)));
  }

  private async run(fold: HistoryItem[], controller: AbortController): Promise<void> {
    const { clock } = this.options;
    const startedAt = clock.now();
    const cancelTimer = clock.schedule(this.policy.summarizeTimeoutMs, () =>
      controller.abort(new Error(`summary took longer than ${this.policy.summarizeTimeoutMs} ms`)),
    );
    const previous = this.summary;
    try {
      // planSummary folded from the end of `previous`, which is still the summary in use: none runs alongside.
      const written = await summarize({
        llm: this.summarizer(),
        prompt: this.policy.summaryPrompt,
        previous: previous?.text,
        messages: fold,
        maxTokens: this.policy.summaryMaxTokens,
        signal: controller.signal,
      });
      if (this.closed) return;
      const text = clipToTokens(written, this.policy.summaryMaxTokens, this.requireTokens().counter);
      const durationMs = clock.now() - startedAt;
      const summary: SummaryState = {
        id: (previous?.id ?? 0) + 1,
        text,
        coveredUntilId: fold[fold.length - 1].id,
        messages: (previous?.messages ?? 0) + fold.length,
        durationMs,
      };
      this.ready = summary;
      this.options.onSummary?.({
        id: summary.id,
        summary: text,
        foldedMessages: fold.length,
        summarizedMessages: summary.messages,
        tokens: this.requireTokens().text(`${SUMMARY_HEADING} ${text}`),
        durationMs,
        atMs: clock.now(),
      });
    } catch (error) {
      if (this.closed) return;
      this.nextAttemptAt = clock.now() + RETRY_AFTER_FAILURE_MS;
      const reason = controller.signal.aborted ? controller.signal.reason : error;
      this.options.onError?.(asError(reason, 'summary failed'));
    } finally {
      cancelTimer();
    }
  }

  private summarizer(): LLM {
    if (this.options.summarizer) return this.options.summarizer;
    const { llm } = this.options;
    this.ownSummarizer ??= llm.sibling?.();
    return this.ownSummarizer ?? llm;
  }

  private windowInput(items: readonly HistoryItem[]): WindowInput {
    return {
      items,
      summary: this.summary,
      prunedUntilId: this.prunedUntilId,
      policy: this.windowPolicy,
      tokens: this.requireTokens(),
      derived: this.derived,
      recall: this.relevance && { relevance: this.relevance, maxTokens: this.policy.recallTokens },
    };
  }

  private requireTokens(): MessageTokens {
    if (!this.tokens) throw new Error('ContextManager.prepare() has not finished: no tokenizer yet');
    return this.tokens;
  }
}

function asError(error: unknown, context?: string): Error {
  const base = error instanceof Error ? error : new Error(String(error));
  if (!context) return base;
  return new Error(`${context}: ${base.message}`, { cause: base });
}
