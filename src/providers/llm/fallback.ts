import type { ChatRequest, LLM, LlmChunk, TokenCounter } from './contract.ts';
import { type FallbackOptions, FallbackRotation, type FallbackState } from './fallback-rotation.ts';

interface Racer {
  index: number;
  controller: AbortController;
  iterator: AsyncIterator<LlmChunk>;
  pending: Promise<Settled>;
}

type Settled = { racer: Racer; result: IteratorResult<LlmChunk> } | { racer: Racer; error: unknown };

/**
 * An LLM over a fallback list (`["openai:gpt-4o-mini", "llama:./model.gguf"]`). A request goes to the provider
 * in use; when it fails before its first token, or its first token misses the latency budget, the next provider
 * is started (a slow one keeps running, and whichever answers first is used). Each switch is logged and
 * counted. The provider that answers stays in use for the session; the first one is tried again later.
 * Once a reply has started it is never restarted elsewhere (that would repeat speech): a mid-reply failure ends
 * the reply with the error and moves the next turn on to the next provider.
 *
 * Side jobs (context summaries) run on a `sibling()`: a chain of the providers' own siblings with a rotation of
 * its own, so they neither move this chain's provider or fallback count nor wait on (or hold) a local model's
 * turn lock.
 */
export class FallbackLlm implements LLM, FallbackState {
  readonly name: string;
  /**
   * The active provider's tokenizer, or the first provider's that has one (a local model's context is the one a
   * prompt can overflow); absent when no provider has one, so callers pick a tokenizer by name as for any LLM.
   */
  readonly tokenCounter?: () => Promise<TokenCounter>;
  private readonly rotation: FallbackRotation;
  /** Providers this instance made (a sibling's own siblings): closed with it. The rest belong to their creator. */
  private readonly owned: readonly LLM[];

  constructor(
    private readonly providers: readonly LLM[],
    private readonly options: FallbackOptions = {},
    owned: readonly LLM[] = providers,
  ) {
    this.rotation = new FallbackRotation(
      'llm',
      providers.map((p) => p.name),
      options,
    );
    this.name = providers.map((p) => p.name).join(' > ');
    this.owned = owned;
    if (providers.some((p) => p.tokenCounter)) this.tokenCounter = () => this.activeTokenCounter();
  }

  /**
   * A chain over each provider's sibling (the provider itself where it has none: a stateless cloud client), with
   * its own rotation and counts; its switches are logged and reported to `onFallback` like this chain's, but never
   * counted here. Closing it closes only the siblings it made.
   */
  sibling(): LLM {
    const owned: LLM[] = [];
    const providers = this.providers.map((p) => {
      const sibling = p.sibling?.();
      if (!sibling) return p;
      owned.push(sibling);
      return sibling;
    });
    return new FallbackLlm(providers, this.options, owned);
  }

  get activeProvider(): string {
    return this.rotation.activeProvider;
  }

  get fallbackCount(): number {
    return this.rotation.fallbackCount;
  }

  chat(request: ChatRequest): AsyncIterable<LlmChunk> {
    return this.race(request);
  }

  /** Warms every provider (a fallback that must load its weights first would be no fallback). */
  async prewarm(): Promise<void> {
    const results = await Promise.allSettled(this.providers.map((p) => p.prewarm?.()));
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed.length === results.length) throw failed[0].reason;
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.owned.map((p) => p.close?.()));
  }

  private activeTokenCounter(): Promise<TokenCounter> {
    const active = this.providers[this.rotation.startIndex()];
    const counter = active.tokenCounter ? active : this.providers.find((p) => p.tokenCounter);
    // The constructor defines tokenCounter only when some provider has one.
    return (counter as Required<Pick<LLM, 'tokenCounter'>>).tokenCounter();
  }

  private async *race(request: ChatRequest): AsyncGenerator<LlmChunk> {
    const { rotation } = this;
    const racers: Racer[] = [];
    let nextIndex = rotation.startIndex();
    let lastError: unknown;
    let cancelBudget: (() => void) | undefined;
    let budgetFired: (() => void) | undefined;
    let budget = new Promise<'budget'>(() => {});
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<'aborted'>((resolve) => {
      onAbort = () => resolve('aborted');
      if (request.signal.aborted) resolve('aborted');
      else request.signal.addEventListener('abort', onAbort, { once: true });
    });

    // One first-token budget for the whole list: a provider started later gets what is left of it.
    const startedAt = rotation.clock.now();
    const budgetLeft = () =>
      request.firstTokenBudgetMs === undefined
        ? Number.POSITIVE_INFINITY
        : request.firstTokenBudgetMs - (rotation.clock.now() - startedAt);
    const launch = () => {
      const index = nextIndex++;
      const controller = new AbortController();
      const signal = AbortSignal.any([request.signal, controller.signal]);
      const left = budgetLeft();
      const firstTokenBudgetMs = Number.isFinite(left) ? Math.max(1, left) : undefined;
      const iterator = this.providers[index]
        .chat({ ...request, signal, ...(firstTokenBudgetMs !== undefined ? { firstTokenBudgetMs } : {}) })
        [Symbol.asyncIterator]();
      const racer: Racer = { index, controller, iterator, pending: undefined as unknown as Promise<Settled> };
      racer.pending = iterator.next().then(
        (result) => ({ racer, result }),
        (error) => ({ racer, error }),
      );
      racers.push(racer);
      cancelBudget?.();
      cancelBudget = undefined;
      // The last provider has no one to hand over to: it gets all the time it needs.
      if (rotation.hasNext(index)) {
        budget = new Promise<'budget'>((resolve) => {
          budgetFired = () => resolve('budget');
        });
        cancelBudget = rotation.clock.schedule(rotation.budgetMs, () => budgetFired?.());
      } else {
        budget = new Promise<'budget'>(() => {});
      }
    };
    const drop = (racer: Racer) => {
      racers.splice(racers.indexOf(racer), 1);
      racer.controller.abort(new Error('fallback: another provider answered'));
      racer.iterator.return?.().catch(() => undefined);
    };

    let winner: Racer | undefined;
    let first: IteratorResult<LlmChunk> | undefined;
    try {
      launch();
      while (!winner) {
        const settled = await Promise.race([aborted, budget, ...racers.map((r) => r.pending)]);
        if (settled === 'aborted') return;
        if (settled === 'budget') {
          const slow = racers[racers.length - 1];
          if (budgetLeft() <= 0) {
            // No time left for another provider: the slow one keeps what there is (and the race never re-fires).
            budget = new Promise<'budget'>(() => {});
            continue;
          }
          rotation.fellBack(slow.index, nextIndex, 'budget');
          launch();
          continue;
        }
        if ('error' in settled) {
          lastError = settled.error;
          racers.splice(racers.indexOf(settled.racer), 1);
          if (request.signal.aborted) return;
          if (racers.length > 0) continue; // a provider started on budget is still running
          // No provider left, or no time left in the request's budget for another to answer.
          if (nextIndex >= this.providers.length || budgetLeft() <= 0) throw lastError;
          rotation.fellBack(settled.racer.index, nextIndex, 'error', lastError);
          launch();
          continue;
        }
        winner = settled.racer;
        first = settled.result;
      }
      cancelBudget?.();
      for (const racer of [...racers]) if (racer !== winner) drop(racer);
      rotation.succeeded(winner.index);
      if (first?.done) return;
      if (first) yield first.value;
      try {
        for (;;) {
          const next = await winner.iterator.next();
          if (next.done) return;
          yield next.value;
        }
      } catch (error) {
        if (request.signal.aborted) return;
        // Mid-reply: the words so far were spoken; the next turn starts on the next provider.
        if (rotation.hasNext(winner.index)) {
          rotation.fellBack(winner.index, winner.index + 1, 'error', error);
          rotation.succeeded(winner.index + 1);
        }
        throw error;
      }
    } finally {
      cancelBudget?.();
      if (onAbort) request.signal.removeEventListener('abort', onAbort);
      for (const racer of [...racers]) if (racer !== winner) drop(racer);
      if (winner) await winner.iterator.return?.().catch(() => undefined);
    }
  }
}
