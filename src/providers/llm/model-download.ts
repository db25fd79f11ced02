import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ModelPullError } from './errors.ts';

export interface DownloadProgress {
  /** Bytes on disk, including what an earlier, interrupted download left. */
  receivedBytes: number;
  totalBytes: number | undefined;
  /** Bytes fetched by this run per second (resumed bytes excluded). */
  bytesPerSecond: number;
}

export interface DownloadOptions {
  /** Expected lowercase hex sha256; the file is only moved into place when it matches. */
  sha256?: string;
  /** Expected size, when known: an oversized `.partial` is discarded, a short download stays resumable. */
  sizeBytes?: number;
  signal?: AbortSignal;
  /** Until response headers arrive. Default 15,000 ms. */
  connectTimeoutMs?: number;
  /** Longest pause between two body chunks. Default 30,000 ms. */
  idleTimeoutMs?: number;
  onProgress?: (p: DownloadProgress) => void;
  /** Injected for tests. */
  fetch?: typeof fetch;
}

export interface DownloadResult {
  path: string;
  bytes: number;
  sha256: string;
  /** Bytes reused from an earlier interrupted download. */
  resumedFromBytes: number;
}

/**
 * Downloads `url` to `dest` through `dest.partial`: an interrupted run resumes with an HTTP Range request, the
 * sha256 covers the whole file (the kept prefix is re-hashed from disk), and only a verified file gets the final
 * name, so a file at `dest` is always complete.
 */
export async function downloadFile(
  url: string,
  dest: string,
  options: DownloadOptions = {},
): Promise<DownloadResult> {
  const partial = `${dest}.partial`;
  await mkdir(dirname(dest), { recursive: true });
  let offset = await sizeOf(partial);
  if (options.sizeBytes !== undefined && offset > options.sizeBytes) {
    await rm(partial, { force: true });
    offset = 0;
  }

  const controller = new AbortController();
  const onAbort = () => controller.abort(options.signal?.reason);
  if (options.signal?.aborted) throw new ModelPullError('aborted', 'download aborted before it started');
  options.signal?.addEventListener('abort', onAbort, { once: true });
  let timedOut: string | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = (ms: number, what: string) => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = `${what} (${ms} ms)`;
      controller.abort();
    }, ms);
  };

  try {
    arm(options.connectTimeoutMs ?? 15_000, 'no answer from the server');
    let response: Response;
    try {
      response = await (options.fetch ?? fetch)(url, {
        headers: offset > 0 ? { range: `bytes=${offset}-` } : {},
        signal: controller.signal,
        redirect: 'follow',
      });
    } catch (error) {
      throw failure(error, url, dest, options.signal, timedOut);
    }

    let hash = createHash('sha256');
    if (response.status === 416 && offset > 0) {
      // Nothing left to fetch: the partial file is already complete.
      await response.body?.cancel();
      await hashFile(partial, hash);
    } else if (response.status === 206) {
      if (offset === 0 || contentRangeStart(response) !== offset) {
        await response.body?.cancel();
        throw new ModelPullError('http', `download failed: ${url} answered a range that was not asked for`);
      }
      await hashFile(partial, hash);
    } else if (response.status === 200) {
      // A server that ignores Range sends the whole file again (200): start over.
      offset = 0;
      hash = createHash('sha256');
    } else {
      await response.body?.cancel();
      throw new ModelPullError(
        'http',
        `download failed: HTTP ${response.status} ${response.statusText} from ${url}`,
      );
    }

    if (response.status !== 416) {
      const length = Number(response.headers.get('content-length') ?? Number.NaN);
      const total = Number.isFinite(length) ? offset + length : options.sizeBytes;
      await writeBody(response, partial, offset, hash, total, options, () =>
        arm(options.idleTimeoutMs ?? 30_000, 'download stalled'),
      ).catch((error: unknown) => {
        throw failure(error, url, dest, options.signal, timedOut);
      });
    }
    clearTimeout(timer);

    const bytes = await sizeOf(partial);
    if (options.sizeBytes !== undefined && bytes !== options.sizeBytes) {
      throw new ModelPullError(
        'network',
        `download incomplete: ${bytes} of ${options.sizeBytes} bytes; run the same command again to resume`,
      );
    }
    const digest = hash.digest('hex');
    if (options.sha256 && digest !== options.sha256.toLowerCase()) {
      // A wrong prefix cannot be fixed by resuming: discard it.
      await rm(partial, { force: true });
      throw new ModelPullError(
        'checksum',
        `checksum mismatch for ${url}: expected sha256 ${options.sha256}, got ${digest}; the download was deleted`,
      );
    }
    await rename(partial, dest);
    return { path: dest, bytes, sha256: digest, resumedFromBytes: offset };
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
  }
}

async function writeBody(
  response: Response,
  partial: string,
  offset: number,
  hash: Hash,
  total: number | undefined,
  options: DownloadOptions,
  onData: () => void,
): Promise<void> {
  const file = await open(partial, offset > 0 ? 'a' : 'w');
  const started = performance.now();
  let received = offset;
  let lastReport = 0;
  try {
    if (!response.body) return;
    onData();
    for await (const part of response.body as unknown as AsyncIterable<Uint8Array>) {
      onData();
      hash.update(part);
      await file.write(part);
      received += part.length;
      const now = performance.now();
      // Progress callbacks at most ~10 times a second: a progress bar, not a log of every chunk.
      if (options.onProgress && (now - lastReport > 100 || received === total)) {
        lastReport = now;
        const seconds = Math.max((now - started) / 1000, 1e-3);
        options.onProgress({
          receivedBytes: received,
          totalBytes: total,
          bytesPerSecond: (received - offset) / seconds,
        });
      }
    }
  } finally {
    await file.close();
  }
}

function failure(
  error: unknown,
  url: string,
  dest: string,
  signal: AbortSignal | undefined,
  timedOut: string | undefined,
): ModelPullError {
  if (error instanceof ModelPullError) return error;
  if (signal?.aborted)
    return new ModelPullError('aborted', 'download aborted; run again to resume', { cause: error });
  const host = safeHost(url);
  const reason = timedOut ?? rootCause(error);
  return new ModelPullError(
    'network',
    `could not download from ${host}: ${reason}. Check the internet connection (or proxy), or fetch ${url} ` +
      `by other means and save it as ${dest}.`,
    { cause: error },
  );
}

function rootCause(error: unknown): string {
  let why = error instanceof Error ? error.message : String(error);
  let e = (error as { cause?: unknown })?.cause;
  for (let depth = 0; e && depth < 5; depth++) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code === 'string') why = typeof message === 'string' ? `${code} (${message})` : code;
    e = (e as { cause?: unknown }).cause;
  }
  return why;
}

function contentRangeStart(response: Response): number | undefined {
  const match = /^bytes (\d+)-/.exec(response.headers.get('content-range') ?? '');
  return match ? Number(match[1]) : undefined;
}

async function hashFile(path: string, hash: Hash): Promise<void> {
  for await (const part of createReadStream(path)) hash.update(part as Buffer);
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

/** sha256 of a file on disk, hex. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await hashFile(path, hash);
  return hash.digest('hex');
}
