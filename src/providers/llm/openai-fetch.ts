import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';

export interface KeepAliveFetchOptions {
  /** Concurrent connections per host. Default 16. */
  maxSockets?: number;
  /** TCP keep-alive probe delay on idle sockets. Default 15,000 ms. */
  probeDelayMs?: number;
}

export type KeepAliveFetch = typeof fetch & {
  /** Connections opened so far (tests and benches read it to prove reuse). */
  readonly connectionsOpened: number;
  /** Closes the idle connections. */
  close(): void;
};

const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);

/**
 * A `fetch` for the openai SDK whose connections stay open between turns. Node's built-in fetch drops an idle
 * connection after 4 s, so every turn after a pause of a few seconds would pay DNS + TCP + TLS again; a
 * keep-alive agent keeps the socket until the server closes it. Bodies other than text or bytes (uploads) go
 * through the built-in fetch, which is where connection reuse matters least.
 */
export function createKeepAliveFetch(options: KeepAliveFetchOptions = {}): KeepAliveFetch {
  const agentOptions = {
    keepAlive: true,
    keepAliveMsecs: options.probeDelayMs ?? 15_000,
    maxSockets: options.maxSockets ?? 16,
    // The most recently used socket is the one least likely to have been closed by the server.
    scheduling: 'lifo' as const,
  };
  const http = new HttpAgent(agentOptions);
  const https = new HttpsAgent(agentOptions);
  let connectionsOpened = 0;
  const seen = new WeakSet<object>();

  const keepAliveFetch = async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const body = init.body;
    if (input instanceof Request || !isSimpleBody(body)) return fetch(input, init);
    const url = new URL(String(input));
    const secure = url.protocol === 'https:';
    if (!secure && url.protocol !== 'http:') return fetch(input, init);
    const signal = init.signal ?? undefined;
    if (signal?.aborted) throw abortError(signal);
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((value, key) => {
      headers[key] = value;
    });
    const payload = bodyBytes(body);
    if (payload) headers['content-length'] = String(payload.byteLength);

    return new Promise<Response>((resolve, reject) => {
      const request = (secure ? httpsRequest : httpRequest)(url, {
        method: init.method ?? 'GET',
        headers,
        agent: secure ? https : http,
      });
      request.once('socket', (socket) => {
        if (seen.has(socket)) return;
        seen.add(socket);
        connectionsOpened++;
      });
      const onAbort = () => request.destroy(abortError(signal as AbortSignal));
      signal?.addEventListener('abort', onAbort, { once: true });
      request.once('error', (error) => {
        signal?.removeEventListener('abort', onAbort);
        reject(signal?.aborted ? abortError(signal) : new TypeError('fetch failed', { cause: error }));
      });
      request.once('response', (response: IncomingMessage) => {
        signal?.removeEventListener('abort', onAbort);
        // An abort after the headers ends the body stream instead.
        const onBodyAbort = () => response.destroy(abortError(signal as AbortSignal));
        signal?.addEventListener('abort', onBodyAbort, { once: true });
        response.once('close', () => signal?.removeEventListener('abort', onBodyAbort));
        const status = response.statusCode ?? 0;
        const responseHeaders = new Headers();
        for (const [key, value] of Object.entries(response.headers)) {
          if (value === undefined) continue;
          for (const v of Array.isArray(value) ? value : [value]) responseHeaders.append(key, v);
        }
        const stream = NULL_BODY_STATUS.has(status)
          ? null
          : (Readable.toWeb(response) as unknown as ReadableStream<Uint8Array>);
        if (!stream) response.resume();
        resolve(
          new Response(stream, { status, statusText: response.statusMessage, headers: responseHeaders }),
        );
      });
      request.end(payload);
    });
  };
  return Object.defineProperties(keepAliveFetch as KeepAliveFetch, {
    connectionsOpened: { get: () => connectionsOpened },
    close: {
      value: () => {
        http.destroy();
        https.destroy();
      },
    },
  });
}

function isSimpleBody(body: unknown): boolean {
  return (
    body === undefined ||
    body === null ||
    typeof body === 'string' ||
    body instanceof Uint8Array ||
    body instanceof ArrayBuffer ||
    body instanceof URLSearchParams
  );
}

function bodyBytes(body: RequestInit['body']): Uint8Array | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string' || body instanceof URLSearchParams) return Buffer.from(String(body));
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  return body as Uint8Array;
}

function abortError(signal: AbortSignal): Error {
  const reason = signal.reason;
  if (reason instanceof Error && reason.name === 'AbortError') return reason;
  return new DOMException('This operation was aborted', 'AbortError');
}
