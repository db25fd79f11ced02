import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';

/** An HTTP answer to a WebSocket upgrade, or to a REST call: how a provider refuses a client. */
export interface Rejection {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

/**
 * An HTTP server on 127.0.0.1 (port 0) that accepts WebSocket upgrades for one path and, optionally, plain
 * requests. Shared plumbing for the fake provider servers.
 */
export class FakeHttpServer {
  private server: Server | undefined;
  private readonly wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(
    private readonly handlers: {
      /** Return a Rejection to refuse the upgrade, or undefined to accept it. */
      upgrade?(request: IncomingMessage): Rejection | undefined;
      connection?(socket: WebSocket, request: IncomingMessage): void;
      request?(request: IncomingMessage, response: ServerResponse): void;
    },
  ) {}

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      if (this.handlers.request) this.handlers.request(req, res);
      else res.writeHead(404).end();
    });
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    server.on('upgrade', (req, socket, head) => {
      const rejection = this.handlers.upgrade?.(req);
      if (rejection) {
        const body = rejection.body ?? '';
        const headers = {
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(body)),
          connection: 'close',
          ...rejection.headers,
        };
        socket.end(
          `HTTP/1.1 ${rejection.status} ${statusText(rejection.status)}\r\n` +
            Object.entries(headers)
              .map(([k, v]) => `${k}: ${v}\r\n`)
              .join('') +
            `\r\n${body}`,
        );
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.handlers.connection?.(ws, req));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const client of this.wss.clients) client.terminate();
    for (const socket of this.sockets) socket.destroy();
    this.wss.close();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

function statusText(status: number): string {
  return (
    {
      400: 'Bad Request',
      401: 'Unauthorized',
      403: 'Forbidden',
      429: 'Too Many Requests',
      500: 'Internal Server Error',
      503: 'Service Unavailable',
    }[status] ?? 'Error'
  );
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
