import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';
import type { z } from 'zod';

/** An HTTP answer to a WebSocket upgrade, or to a REST call: how a provider refuses a client. */
export interface Rejection {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export interface FakeHttpHandlers {
  /** Return a Rejection to refuse the upgrade, or undefined to accept it. */
  upgrade?(request: IncomingMessage): Rejection | undefined;
  connection?(socket: WebSocket, request: IncomingMessage, tcp: Socket): void;
  request?(request: IncomingMessage, response: ServerResponse): void;
}

/**
 * The plumbing every fake provider server shares: HTTP on 127.0.0.1 (port 0) with optional WebSocket upgrades,
 * connections counted and tracked so a test can cut them, and timers that `close()` cancels.
 */
export class FakeHttpServer {
  /** TCP connections accepted so far. */
  connections = 0;
  port = 0;
  private server: Server | undefined;
  private readonly wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();

  constructor(private readonly handlers: FakeHttpHandlers) {}

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      if (this.handlers.request) this.handlers.request(req, res);
      else res.writeHead(404).end();
    });
    server.on('connection', (socket) => {
      this.connections++;
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    server.on('upgrade', (req, socket: Socket, head) => {
      const rejection = this.handlers.upgrade?.(req);
      if (rejection) return refuseUpgrade(socket, rejection);
      this.wss.handleUpgrade(req, socket, head, (ws) => this.handlers.connection?.(ws, req, socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  /** WebSocket connections open now. */
  get openSockets(): number {
    return this.wss.clients.size;
  }

  /** Runs `fn` after `ms` unless cancelled (the returned function) or the server closes first. */
  later(ms: number, fn: () => void): () => void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
    return () => {
      clearTimeout(timer);
      this.timers.delete(timer);
    };
  }

  /** Resolves after `ms` (at once for 0), or never if the server closes first. */
  sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => this.later(ms, resolve));
  }

  /** Drops every open connection, as a crashed server or a network cut would. */
  dropConnections(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    for (const client of this.wss.clients) client.terminate();
    this.dropConnections();
    this.wss.close();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

function refuseUpgrade(socket: Socket, rejection: Rejection): void {
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

/** The whole request body as text. */
export async function readBody(req: IncomingMessage): Promise<string> {
  let raw = '';
  for await (const part of req) raw += part;
  return raw;
}

/** Writes a JSON answer. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/** Starts a raw PCM answer (chunked, headers sent at once so the client sees its first byte time). */
export function startPcm(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'audio/pcm', 'transfer-encoding': 'chunked' });
  res.flushHeaders();
}

/** The token of an `Authorization: Bearer …` header, or undefined. */
export function bearerToken(req: IncomingMessage): string | undefined {
  const authorization = req.headers.authorization;
  return authorization?.startsWith('Bearer ') ? authorization.slice(7) : undefined;
}

/**
 * Reads a JSON body and validates it, as OpenAI's API does: what does not parse or fit `schema` is refused
 * through `refuse` (a 400, with the offending field for a bad shape) and gives undefined.
 */
export async function readOpenAiJson<T>(
  req: IncomingMessage,
  schema: z.ZodType<T>,
  refuse: (message: string, param?: string) => void,
): Promise<T | undefined> {
  const raw = await readBody(req);
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    refuse('We could not parse the JSON body of your request.');
    return undefined;
  }
  const parsed = schema.safeParse(json);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  refuse(`Invalid request: ${issue.message}`, issue.path.join('.'));
  return undefined;
}
