import { APIConnectionError, APIError, APIUserAbortError } from 'openai';

export interface RetryPolicy {
  /** Attempts after the first. */
  maxRetries: number;
  /** First backoff; doubles each retry, with up to 25 % jitter. */
  baseDelayMs: number;
  /**
   * The longest wait before a retry. A server asking for longer (retry-after) is not retried: a voice turn cannot
   * wait that long, and the fallback list takes over instead.
   */
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxRetries: 2, baseDelayMs: 250, maxDelayMs: 2_000 };

/** The retry options every cloud client takes, each defaulting to `DEFAULT_RETRY_POLICY`. */
export interface RetryOptions {
  maxRetries?: number;
  retryBaseDelayMs?: number;
  maxRetryDelayMs?: number;
}

export function retryPolicy(options: RetryOptions): RetryPolicy {
  return {
    maxRetries: options.maxRetries ?? DEFAULT_RETRY_POLICY.maxRetries,
    baseDelayMs: options.retryBaseDelayMs ?? DEFAULT_RETRY_POLICY.baseDelayMs,
    maxDelayMs: options.maxRetryDelayMs ?? DEFAULT_RETRY_POLICY.maxDelayMs,
  };
}

/** An HTTP error from a client that does not use the openai SDK (ElevenLabs): classified like an APIError. */
export class HttpStatusError extends Error {
  override readonly name = 'HttpStatusError';
  constructor(
    readonly status: number,
    message: string,
    readonly headers?: Headers,
  ) {
    super(message);
  }
}

/** A transport-level failure this client recognises itself (a stream that broke or stalled before any output). */
export class RetryableError extends Error {
  override readonly name = 'RetryableError';
}

/**
 * How long to wait before retrying a request that failed before any output, or undefined when it must not be
 * retried: 408/409/429/5xx and connection failures are retried (honouring `retry-after-ms` / `retry-after` and
 * `x-should-retry`), client errors and aborts are not.
 */
export function retryDelayMs(
  error: unknown,
  attempt: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number | undefined {
  if (attempt >= policy.maxRetries) return undefined;
  if (!isRetryable(error)) return undefined;
  const asked =
    error instanceof APIError || error instanceof HttpStatusError ? retryAfterMs(error.headers) : undefined;
  if (asked !== undefined) return asked <= policy.maxDelayMs ? asked : undefined;
  const backoff = Math.min(policy.baseDelayMs * 2 ** attempt, policy.maxDelayMs);
  return Math.round(backoff * (1 - random() * 0.25));
}

function isRetryable(error: unknown): boolean {
  if (error instanceof APIUserAbortError) return false;
  if (error instanceof APIConnectionError) return true;
  if (error instanceof APIError || error instanceof HttpStatusError) {
    const should = error.headers?.get('x-should-retry');
    if (should === 'true') return true;
    if (should === 'false') return false;
    const status = error.status;
    return status === 408 || status === 409 || status === 429 || (status !== undefined && status >= 500);
  }
  if (error instanceof RetryableError) return true;
  // fetch and the body stream report a dropped or refused connection as plain errors (TypeError, ECONNRESET).
  const code = errorCode(error);
  const fetchFailure = error instanceof TypeError && /^(fetch failed|terminated)$/.test(error.message);
  return fetchFailure || (code !== undefined && /^(E[A-Z]+|UND_ERR_.*)$/.test(code));
}

/** `retry-after-ms` (milliseconds) or `retry-after` (seconds or an HTTP date), as a wait in ms. */
export function retryAfterMs(headers: Headers | undefined, now = Date.now()): number | undefined {
  const ms = headers?.get('retry-after-ms');
  if (ms) {
    const value = Number.parseFloat(ms);
    if (Number.isFinite(value) && value >= 0) return value;
  }
  const after = headers?.get('retry-after');
  if (after) {
    const seconds = Number.parseFloat(after);
    if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
    const date = Date.parse(after);
    if (Number.isFinite(date)) return Math.max(0, date - now);
  }
  return undefined;
}

function errorCode(error: unknown): string | undefined {
  let e = error as { code?: unknown; cause?: unknown } | undefined;
  for (let depth = 0; e && depth < 5; depth++) {
    if (typeof e.code === 'string') return e.code;
    e = e.cause as typeof e;
  }
  return undefined;
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** The innermost useful reason (`ECONNREFUSED`, `ENOTFOUND`, …) under fetch's generic "fetch failed". */
export function rootCause(error: unknown): string | undefined {
  let why: string | undefined;
  let e = (error as { cause?: unknown }).cause;
  for (let depth = 0; e && depth < 5; depth++) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code === 'string') why = code;
    else if (typeof message === 'string' && !why) why = message;
    e = (e as { cause?: unknown }).cause;
  }
  return why;
}
