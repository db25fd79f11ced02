import { abortableSleep, type RetryPolicy, retryDelayMs } from './openai-retry.ts';

export interface RetryBeforeOutputOptions {
  signal: AbortSignal;
  policy: RetryPolicy;
  /** The error thrown when a failure may not be retried (output already delivered, or retries spent). */
  fail(error: unknown): Error;
  /** Called before each wait (a log line). */
  onRetry(error: unknown, attempt: number, delayMs: number): void;
}

/**
 * Runs `attempt` again, with backoff, while it fails before yielding anything; once an item has been delivered a
 * failure is final (a retry would repeat speech). An abort ends the output quietly.
 */
export async function* retryBeforeOutput<T>(
  attempt: () => AsyncIterable<T>,
  options: RetryBeforeOutputOptions,
): AsyncGenerator<T> {
  const { signal } = options;
  for (let n = 0; ; n++) {
    let delivered = false;
    try {
      for await (const item of attempt()) {
        delivered = true;
        yield item;
      }
      return;
    } catch (error) {
      if (signal.aborted) return;
      const delay = delivered ? undefined : retryDelayMs(error, n, options.policy);
      if (delay === undefined) throw options.fail(error);
      options.onRetry(error, n, delay);
      try {
        await abortableSleep(delay, signal);
      } catch {
        return;
      }
    }
  }
}
