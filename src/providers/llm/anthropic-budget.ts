import type { ChatRequest, LlmChunk } from './contract.ts';
import { LlmError } from './errors.ts';
import { RetryableError, type RetryPolicy } from './openai-retry.ts';
import { retryBeforeOutput } from './retry-before-output.ts';

/**
 * The retry loop of a cloud LLM under a request's first-token budget (shared by the Anthropic and Gemini
 * clients; the OpenAI client has the same rules inline): the first attempt waits at most half of the budget
 * for a first output (so a connection that hangs after its headers can be retried once), a later one what is
 * left; a retry whose backoff would end past the budget is not made, and when the budget runs out the request
 * fails with a timeout naming the attempts made and the last failure. Without a budget: plain retries before
 * the first output.
 */
export interface BudgetedChatOptions {
  name: string;
  request: ChatRequest;
  policy: RetryPolicy;
  /** Per-attempt first-output timeout without a budget. */
  firstOutputTimeoutMs: number;
  /** One attempt, with its signal and its first-output timeout; raw errors so the loop can classify them. */
  attempt(signal: AbortSignal, firstOutputMs: number): AsyncIterable<LlmChunk>;
  toError(error: unknown): LlmError;
  /** Where a retry before the first token is reported (a warning naming the provider and the error). */
  log?: { warn(fields: object, message: string): void };
}

function retryLogger(options: BudgetedChatOptions) {
  return (error: unknown, attempt: number, delayMs: number) =>
    options.log?.warn(
      { provider: options.name, attempt: attempt + 1, delayMs, err: options.toError(error).message },
      'llm request failed before its first token; retrying',
    );
}

export async function* budgetedChat(options: BudgetedChatOptions): AsyncGenerator<LlmChunk> {
  const { request, policy } = options;
  const logRetry = retryLogger(options);
  const budgetMs = request.firstTokenBudgetMs;
  if (budgetMs === undefined || !Number.isFinite(budgetMs)) {
    yield* retryBeforeOutput(() => options.attempt(request.signal, options.firstOutputTimeoutMs), {
      signal: request.signal,
      policy,
      fail: options.toError,
      onRetry: logRetry,
    });
    return;
  }
  const started = performance.now();
  const left = () => budgetMs - (performance.now() - started);
  const budget = new AbortController();
  const timer = setTimeout(() => budget.abort(new Error('first-token budget spent')), Math.max(0, budgetMs));
  const signal = AbortSignal.any([request.signal, budget.signal]);
  let attempts = 0;
  let lastError: unknown;
  let answered = false;
  const attempt = () => {
    attempts++;
    const limit = options.firstOutputTimeoutMs;
    const wait = attempts === 1 ? Math.min(limit, budgetMs / 2) : Math.min(limit, left());
    return options.attempt(signal, Math.max(1, Math.round(wait)));
  };
  try {
    for await (const chunk of retryBeforeOutput(attempt, {
      signal,
      policy,
      fail: options.toError,
      onRetry: (error, n, delayMs) => {
        lastError = error;
        if (delayMs >= left()) {
          throw new LlmError(
            'timeout',
            `${options.toError(error).message} (no time left in the ${budgetMs} ms first-token budget to retry)`,
            { cause: error },
          );
        }
        logRetry(error, n, delayMs);
      },
    })) {
      if (!answered) {
        answered = true;
        clearTimeout(timer);
      }
      yield chunk;
    }
  } finally {
    clearTimeout(timer);
  }
  if (!answered && budget.signal.aborted && !request.signal.aborted) {
    const last = lastError === undefined ? '' : `; last failure: ${options.toError(lastError).message}`;
    throw new LlmError(
      'timeout',
      `${options.name}: no first token within the ${budgetMs} ms budget (${attempts} attempt${attempts === 1 ? '' : 's'}${last})`,
    );
  }
}

/** Arms a timer while waiting on the server, never while the consumer holds a chunk (TTS back-pressure is fine). */
export class StallWatch {
  stalled: { afterMs: number; first: boolean } | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly firstMs: number,
    private readonly idleMs: number,
    private readonly onStall: () => void,
  ) {}

  arm(first: boolean): void {
    const afterMs = first ? this.firstMs : this.idleMs;
    this.timer = setTimeout(() => {
      this.stalled = { afterMs, first };
      this.onStall();
    }, afterMs);
  }

  disarm(): void {
    clearTimeout(this.timer);
  }
}

/** The error a stalled stream fails with: before the first token nothing was said yet, so it is worth a retry. */
export function stallError(name: string, stalled: { afterMs: number; first: boolean }): Error {
  const what = stalled.first ? 'no first token' : 'no data from the server';
  const message = `${name}: ${what} for ${stalled.afterMs} ms`;
  return stalled.first ? new RetryableError(message) : new LlmError('timeout', message);
}
