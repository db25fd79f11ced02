import type WebSocket from 'ws';
import {
  RetryableError,
  type RetryOptions,
  type RetryPolicy,
  retryDelayMs,
  retryPolicy,
} from '../llm/openai-retry.ts';
import { openSocket, ttsError } from './cartesia-socket.ts';
import { TtsRequestError } from './openai-pcm.ts';

export interface SessionSocketOptions<M> extends RetryOptions {
  name: string;
  url: string;
  headers: Record<string, string>;
  /** WebSocket handshake. Default 5,000 ms. */
  connectTimeoutMs?: number;
  /** Parses a text message (throws on a malformed one: the connection is then lost). */
  parse(value: unknown): M;
  message(message: M): void;
  /** Binary frames; absent: a binary frame is a malformed message. */
  binary?(data: Buffer): void;
  /** The connection was lost (closed, or a malformed message): its replies retry on a new one or fail. */
  lost(error: unknown): void;
  /** Sent before the socket is closed by `close`. */
  closeMessage?: Record<string, unknown>;
}

/**
 * The one WebSocket connection of a streaming TTS (per session): opened on first use or by prewarm, reused by
 * every reply, dropped when the server misbehaves (the next use opens a new one), closed with the session.
 */
export class SessionSocket<M> {
  private socket: Promise<WebSocket> | undefined;
  /** Sockets already lost or dropped: their later events (the close after a terminate) are no one's news. */
  private readonly gone = new WeakSet<WebSocket>();
  private closed = false;
  private readonly retry: RetryPolicy;

  constructor(private readonly options: SessionSocketOptions<M>) {
    this.retry = retryPolicy(options);
  }

  async prewarm(): Promise<void> {
    try {
      await this.connection();
    } catch (error) {
      throw ttsError(error);
    }
  }

  close(): void {
    this.closed = true;
    const socket = this.socket;
    this.socket = undefined;
    const goodbye = this.options.closeMessage;
    void socket
      ?.then((s) => {
        if (goodbye && s.readyState === 1) s.send(JSON.stringify(goodbye));
        s.close(1000);
      })
      .catch(() => undefined);
  }

  /** Sends on the socket, opening it first. */
  async send(message: Record<string, unknown>): Promise<void> {
    const socket = await this.connection();
    socket.send(JSON.stringify(message));
  }

  /** Sends only if a connection is open (or opening); never opens one. */
  sendIfOpen(message: Record<string, unknown>): void {
    void this.socket
      ?.then((s) => s.readyState === 1 && s.send(JSON.stringify(message)))
      .catch(() => undefined);
  }

  /** Drops the connection (a stalled or confused server); the next use opens a new one. */
  drop(): void {
    const socket = this.socket;
    this.socket = undefined;
    void socket
      ?.then((s) => {
        this.gone.add(s);
        s.terminate();
      })
      .catch(() => undefined);
  }

  retryDelay(error: unknown, attempt: number): number | undefined {
    return retryDelayMs(error, attempt, this.retry);
  }

  private connection(): Promise<WebSocket> {
    const { name } = this.options;
    if (this.closed) return Promise.reject(new TtsRequestError(`${name}: closed`));
    if (this.socket) return this.socket;
    const opening = openSocket({
      url: this.options.url,
      headers: this.options.headers,
      connectTimeoutMs: this.options.connectTimeoutMs ?? 5_000,
      name,
    });
    this.socket = opening;
    opening.then(
      (socket) => {
        socket.on('message', (data: Buffer, binary) => {
          if (binary && this.options.binary) return this.options.binary(data);
          let message: M;
          try {
            message = this.options.parse(JSON.parse(binary ? '' : String(data)));
          } catch (error) {
            // Nothing on this socket can be trusted now.
            this.lose(socket, new RetryableError(`${name}: malformed server message`, { cause: error }));
            return;
          }
          this.options.message(message);
        });
        socket.on('close', (code, reason) =>
          this.lose(
            socket,
            new RetryableError(`${name}: connection closed (${code}${reason.length ? ` ${reason}` : ''})`),
          ),
        );
      },
      () => {
        if (this.socket === opening) this.socket = undefined;
      },
    );
    return opening;
  }

  private lose(socket: WebSocket, error: unknown): void {
    // Told once per connection, and never for one already dropped: that would fail the reply's next attempt.
    if (this.gone.has(socket)) return;
    this.gone.add(socket);
    socket.terminate();
    void this.socket?.then((s) => {
      if (s === socket) this.socket = undefined;
    });
    this.options.lost(error);
  }
}

/**
 * A reply's wait for audio: armed while flushed text has none yet, it fails the reply (as a retryable error, so
 * a reply with no audio yet reconnects) when nothing arrives for `ms`.
 */
export class IdleTimer {
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly name: () => string,
    private readonly ms: () => number,
    private readonly onIdle: (error: RetryableError) => void,
  ) {}

  arm(): void {
    this.disarm();
    const ms = this.ms();
    this.timer = setTimeout(
      () => this.onIdle(new RetryableError(`${this.name()}: no audio for ${ms} ms`)),
      ms,
    );
  }

  disarm(): void {
    clearTimeout(this.timer);
  }
}
