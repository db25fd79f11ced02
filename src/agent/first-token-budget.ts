import type { Clock } from '../metrics/clock.ts';
import type { ChatRequest, LLM, LlmChunk } from '../providers/llm/contract.ts';
import { LlmError } from '../providers/llm/errors.ts';

/**
 * A provider that honours `firstTokenBudgetMs` gives up at the budget with its own, more precise error (the
 * attempts it made, the last failure); this backstop fires a moment later for one that does not.
 */
const BACKSTOP_GRACE_MS = 100;

export interface FirstTokenBudgetOptions {
  clock: Clock;
  budgetMs: number;
}

/**
 * One LLM request held to one first-token budget: the provider is told the budget (its retries and fallbacks
 * share it), and if no token or tool call has come when it runs out the request is abandoned and fails with a
 * timeout, even from a provider that ignores the budget or its abort signal.
 */
export async function* withFirstTokenBudget(
  llm: LLM,
  request: ChatRequest,
  { clock, budgetMs }: FirstTokenBudgetOptions,
): AsyncGenerator<LlmChunk> {
  const controller = new AbortController();
  const signal = AbortSignal.any([request.signal, controller.signal]);
  let expire: () => void = () => {};
  const expired = new Promise<'expired'>((resolve) => {
    expire = () => resolve('expired');
  });
  const cancel = clock.schedule(budgetMs + BACKSTOP_GRACE_MS, expire);
  const iterator = llm.chat({ ...request, signal, firstTokenBudgetMs: budgetMs })[Symbol.asyncIterator]();
  let answered = false;
  let finished = false;
  try {
    for (;;) {
      const next = answered ? await iterator.next() : await Promise.race([iterator.next(), expired]);
      if (next === 'expired') {
        if (request.signal.aborted) return;
        controller.abort(new Error('first-token budget spent'));
        throw new LlmError('timeout', `${llm.name}: no first token within ${budgetMs} ms`);
      }
      if (next.done) {
        finished = true;
        return;
      }
      const chunk = next.value;
      if (!answered && ((chunk.type === 'text' && chunk.delta) || chunk.type === 'toolCall')) {
        answered = true;
        cancel();
      }
      yield chunk;
    }
  } finally {
    cancel();
    // A provider stuck in a call that ignores its signal is not waited for: its late end is dropped.
    if (!finished) void iterator.return?.()?.catch(() => undefined);
  }
}
