import type { ProviderLog } from '../llm/openai-compatible.ts';
import { RetryableError, type RetryPolicy } from '../llm/openai-retry.ts';
import { retryBeforeOutput } from '../llm/retry-before-output.ts';
import { PcmChunker } from './openai-pcm.ts';

/** Runs one wait on the server under the idle timeout. */
export type IdleWatch = <T>(wait: () => Promise<T>) => Promise<T>;

/**
 * One HTTP request whose response body is raw PCM16, as sample chunks. `open` sends the request on `connection`
 * and returns the body; each read of it (and whatever `open` runs under `watch`) may wait `idleMs`, after which
 * the request is cut and fails retryably. The request is cut too when `signal` aborts or the caller stops early.
 */
export async function* streamPcmBody(
  name: string,
  signal: AbortSignal,
  idleMs: number,
  open: (connection: AbortSignal, watch: IdleWatch) => Promise<ReadableStream<Uint8Array> | null | undefined>,
): AsyncGenerator<Int16Array> {
  const connection = new AbortController();
  const onAbort = () => connection.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  let stalled = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const watch: IdleWatch = (wait) => {
    timer = setTimeout(() => {
      stalled = true;
      connection.abort();
    }, idleMs);
    return wait().finally(() => clearTimeout(timer));
  };
  try {
    const reader = (await open(connection.signal, watch))?.getReader();
    if (!reader) throw new RetryableError(`${name}: the response had no body`);
    const pcm = new PcmChunker();
    for (;;) {
      const next = await watch(() => reader.read());
      if (signal.aborted) return;
      if (next.done) break;
      const samples = pcm.push(next.value);
      if (samples.length) yield samples;
    }
    pcm.end();
  } catch (error) {
    if (stalled) throw new RetryableError(`${name}: no audio for ${idleMs} ms`);
    throw error;
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
    connection.abort();
  }
}

export interface SentenceRetry {
  name: string;
  policy: RetryPolicy;
  log?: ProviderLog;
  /** The provider's error for a failure (named, the key redacted). */
  toError(error: unknown): Error;
}

/** A sentence's requests, retried while none of its audio has arrived (afterwards a retry would repeat speech). */
export function retryBeforeFirstAudio(
  request: () => AsyncIterable<Int16Array>,
  signal: AbortSignal,
  retry: SentenceRetry,
): AsyncIterable<Int16Array> {
  return retryBeforeOutput(request, {
    signal,
    policy: retry.policy,
    fail: (error) => retry.toError(error),
    onRetry: (error, attempt, delayMs) =>
      retry.log?.warn(
        { provider: retry.name, attempt: attempt + 1, delayMs, err: retry.toError(error).message },
        'tts request failed before its first audio; retrying',
      ),
  });
}
