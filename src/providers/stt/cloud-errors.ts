import type { SttLog } from './cloud-socket.ts';
import type { SttListener } from './contract.ts';

export type CloudSttErrorKind =
  | 'config'
  | 'auth'
  | 'rate-limit'
  | 'server'
  | 'network'
  | 'timeout'
  | 'protocol'
  | 'bad-request';

export interface CloudSttErrorOptions {
  status?: number;
  /** The server asked to wait this long before trying again (Retry-After). */
  retryAfterMs?: number;
  /** The stream gave up: nothing more comes from it (see `isFatalSttError`). */
  fatal?: boolean;
  cause?: unknown;
}

/** A cloud STT failure, classified so the retry loop knows whether trying again can help. */
export class CloudSttError extends Error {
  override readonly name = 'CloudSttError';
  readonly status?: number;
  readonly retryAfterMs?: number;
  readonly fatal: boolean;

  constructor(
    readonly kind: CloudSttErrorKind,
    message: string,
    options: CloudSttErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
    this.fatal = options.fatal ?? false;
  }

  /** Worth another try: rate limits, server errors, timeouts and dropped connections. */
  get retryable(): boolean {
    return (
      this.kind === 'rate-limit' ||
      this.kind === 'server' ||
      this.kind === 'network' ||
      this.kind === 'timeout'
    );
  }

  /** The same failure, marked as the one the stream gave up on. */
  asFatal(prefix: string): CloudSttError {
    return new CloudSttError(this.kind, `${prefix}: ${this.message}`, {
      status: this.status,
      fatal: true,
      cause: this,
    });
  }
}

/** The kind an HTTP status stands for, at a WebSocket upgrade or on a REST call. */
export function kindOfStatus(status: number): CloudSttErrorKind {
  if (status === 401 || status === 403) return 'auth';
  if (status === 429) return 'rate-limit';
  if (status === 408) return 'timeout';
  if (status >= 500) return 'server';
  return 'bad-request';
}

/**
 * Retry-After as milliseconds: delta-seconds or an HTTP date; also OpenAI's `retry-after-ms`. Undefined when absent
 * or unreadable.
 */
export function parseRetryAfter(
  header: string | null | undefined,
  headerMs?: string | null,
  nowMs = Date.now(),
): number | undefined {
  if (headerMs) {
    const ms = Number(headerMs);
    if (Number.isFinite(ms) && ms >= 0) return ms;
  }
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

/**
 * Removes a secret from text that may reach a log: the key itself and anything shaped like one (OpenAI's 401
 * body quotes a masked key; a proxy may echo the Authorization header).
 */
export function redactSecret(text: string, secret: string | undefined): string {
  let out = secret && secret.length >= 4 ? text.split(secret).join('***') : text;
  out = out.replace(/\bsk-[\w*.-]{3,}[\w*]/g, 'sk-***');
  return out.replace(/\b(Token|Bearer)\s+[\w*.-]{7,}[\w*]/gi, '$1 ***');
}

/** Exponential backoff with equal jitter: half the step fixed, half random, so retries from many sessions spread. */
export function backoffMs(attempt: number, initialMs: number, maxMs: number, random = Math.random): number {
  const step = Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt - 1));
  return step / 2 + random() * (step / 2);
}

export interface RetryLimits {
  maxRetries: number;
  maxRetryAfterMs: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
}

/**
 * After the `attempt`-th consecutive failure: how long to wait before trying again, or why the client gives up
 * (`''` for an error retrying cannot fix, else a clause for the fatal error's message).
 */
export function nextRetry(
  error: CloudSttError,
  attempt: number,
  limits: RetryLimits,
): { delayMs: number } | { giveUp: string } {
  if (!error.retryable) return { giveUp: '' };
  if (attempt > limits.maxRetries) return { giveUp: ` gave up after ${attempt} attempts` };
  if (error.retryAfterMs !== undefined && error.retryAfterMs > limits.maxRetryAfterMs)
    return { giveUp: ` asked to wait ${Math.round(error.retryAfterMs)} ms` };
  return { delayMs: error.retryAfterMs ?? backoffMs(attempt, limits.initialBackoffMs, limits.maxBackoffMs) };
}

/** The stream gives up: `error` becomes fatal (`why` from `nextRetry`), is logged, and reaches the listener. */
export function reportFatal(
  error: CloudSttError,
  provider: string,
  why: string,
  listener: SttListener,
  log?: SttLog,
): void {
  const fatal = error.asFatal(`${provider}${why}`);
  log?.warn({ provider, error: fatal.message }, 'stt stream gave up');
  try {
    listener.onError?.(fatal);
  } catch {
    // nothing more to do
  }
}
