import type { IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { type Clock, MonotonicClock } from '../../metrics/clock.ts';
import { CloudSttError, kindOfStatus, parseRetryAfter, redactSecret } from './cloud-errors.ts';

/** The slice of a pino logger the STT clients use. */
export interface SttLog {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
}

export interface ReconnectOptions {
  /** From opening the socket to ready for audio (TCP, TLS, upgrade, session set-up). */
  connectTimeoutMs: number;
  /** From a flush to its answer; a connection that stays silent this long is treated as dropped. */
  resultTimeoutMs: number;
  /** Consecutive failed attempts before the stream gives up (a fallback list then moves on). */
  maxRetries: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** A server asking to wait longer than this is not waited for: the stream gives up so a fallback can serve. */
  maxRetryAfterMs: number;
  /** A connection that lived this long before dropping counts as healthy: the retry count starts over. */
  stableAfterMs: number;
  /** Audio kept for replay while nothing finalises it (a long outage); older audio is dropped. */
  maxReplayMs: number;
  /** Timers for backoff, timeouts and keep-alives. Transcript times come from the frames, not from this. */
  clock: Clock;
  log?: SttLog;
}

export const DEFAULT_RECONNECT_OPTIONS: Omit<ReconnectOptions, 'clock'> = {
  connectTimeoutMs: 5_000,
  resultTimeoutMs: 3_000,
  maxRetries: 4,
  initialBackoffMs: 250,
  maxBackoffMs: 4_000,
  maxRetryAfterMs: 20_000,
  stableAfterMs: 10_000,
  maxReplayMs: 30_000,
};

export function reconnectOptions(options: Partial<ReconnectOptions>): ReconnectOptions {
  return { ...DEFAULT_RECONNECT_OPTIONS, clock: options.clock ?? new MonotonicClock(), ...options };
}

export interface SocketRequest {
  url: string;
  headers: Record<string, string>;
}

/** Closes a socket we are done with, whatever state it is in, without letting its late errors escape. */
export function retire(socket: WebSocket, graceful: boolean): void {
  socket.removeAllListeners();
  socket.on('error', () => {});
  if (graceful && socket.readyState === WebSocket.OPEN) socket.close(1000);
  else socket.terminate();
}

const MAX_REJECTION_BODY = 4096;

/** The error an HTTP answer to the upgrade request stands for (401 bad key, 429 rate limit, 5xx). */
export function readRejection(
  res: IncomingMessage,
  provider: string,
  secret: string,
): Promise<CloudSttError> {
  const status = res.statusCode ?? 0;
  const header = (name: string) => {
    const value = res.headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const retryAfterMs = parseRetryAfter(header('retry-after'), header('retry-after-ms'));
  return new Promise((resolve) => {
    let body = '';
    let settled = false;
    const done = () => {
      if (settled) return;
      settled = true;
      let detail = header('dg-error') ?? '';
      if (!detail) {
        try {
          const parsed = JSON.parse(body) as { error?: { message?: string } | string; err_msg?: string };
          detail =
            (typeof parsed.error === 'string' ? parsed.error : parsed.error?.message) ?? parsed.err_msg ?? '';
        } catch {
          detail = body.trim().slice(0, 200);
        }
      }
      const message = redactSecret(
        `${provider} refused the connection: HTTP ${status}${detail ? ` (${detail})` : ''}`,
        secret,
      );
      resolve(new CloudSttError(kindOfStatus(status), message, { status, retryAfterMs }));
    };
    const timer = setTimeout(done, 1000);
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      if (body.length < MAX_REJECTION_BODY) body += chunk.slice(0, MAX_REJECTION_BODY - body.length);
    });
    res.on('end', () => {
      clearTimeout(timer);
      done();
    });
    res.on('error', () => {
      clearTimeout(timer);
      done();
    });
  });
}
