import type { IncomingMessage } from 'node:http';
import { WebSocket } from 'ws';
import { FakeHttpServer, type Rejection } from '../../testing/http-fakes.ts';

export type { Rejection } from '../../testing/http-fakes.ts';

/**
 * What the fake WebSocket STT servers share: upgrade attempts counted (refused ones included), each accepted
 * connection served knowing the index of its attempt.
 */
export abstract class FakeSocketProvider {
  protected readonly http: FakeHttpServer;
  private attempts = 0;
  private readonly attemptOf = new WeakMap<IncomingMessage, number>();

  constructor() {
    this.http = new FakeHttpServer({
      upgrade: (req) => {
        const index = this.attempts++;
        this.attemptOf.set(req, index);
        return this.checkUpgrade(req, index);
      },
      connection: (ws, req) => this.serve(ws, req, this.attemptOf.get(req) ?? this.attempts - 1),
    });
  }

  async start(): Promise<this> {
    await this.http.start();
    return this;
  }

  /** Upgrade attempts so far, refused ones included. */
  get connectionAttempts(): number {
    return this.attempts;
  }

  close(): Promise<void> {
    return this.http.close();
  }

  protected abstract checkUpgrade(req: IncomingMessage, index: number): Rejection | undefined;
  protected abstract serve(ws: WebSocket, req: IncomingMessage, index: number): void;
}

/** Sends messages in order, holding the first one back by `firstDelayMs` (a slow first result). */
export class OrderedSender {
  private chain: Promise<void> = Promise.resolve();
  private first = true;
  constructor(
    private readonly socket: WebSocket,
    private readonly firstDelayMs = 0,
  ) {}

  send(message: object | string): void {
    const delay = this.first ? this.firstDelayMs : 0;
    this.first = false;
    const text = typeof message === 'string' ? message : JSON.stringify(message);
    this.chain = this.chain.then(async () => {
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
      if (this.socket.readyState === WebSocket.OPEN) this.socket.send(text);
    });
  }

  /** Holds whatever is sent next back by `ms`. */
  pause(ms: number): void {
    this.chain = this.chain.then(() => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** Resolves once everything queued so far is sent. */
  drained(): Promise<void> {
    return this.chain;
  }
}

/** Polls until `predicate` holds (real time; for tests talking to these servers over sockets). */
export async function waitUntil(
  predicate: () => boolean,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
