import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { WebSocketServer } from 'ws';
import type { AgentSession } from '../agent/session.ts';
import { attachWebSocketClient } from '../transport/websocket/connection.ts';

export interface ServerOptions {
  host: string;
  port: number;
  /** Needed from clients when listening beyond loopback. */
  token?: string;
  createSession(): Promise<AgentSession>;
  onSessionError?(error: Error): void;
}

export interface RunningServer {
  server: Server;
  url: string;
  token: string | undefined;
  sessions(): number;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

/** HTTP: `/health`, and `/ws` for the WebSocket transport. Each connection is its own isolated session. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const token =
    options.token ?? (LOOPBACK.has(options.host) ? undefined : randomBytes(18).toString('base64url'));
  const live = new Set<AgentSession>();
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (url.pathname === '/health') {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ status: 'ok', sessions: live.size }));
      return;
    }
    response.writeHead(404, { 'content-type': 'text/plain' });
    response.end('not found\n');
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1 << 20 });
  server.on('upgrade', (request, socket, head) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (url.pathname !== '/ws') return socket.destroy();
    if (token && !sameSecret(url.searchParams.get('token') ?? '', token)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\n\r\n');
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      options
        .createSession()
        .then(async (session) => {
          live.add(session);
          ws.on('close', () => live.delete(session));
          await attachWebSocketClient(ws, session);
        })
        .catch((error: Error) => {
          options.onSessionError?.(error);
          if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ type: 'error', message: error.message }));
          ws.close(1011, 'session failed to start');
        });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return {
    server,
    url: `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`,
    token,
    sessions: () => live.size,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      await Promise.all([...live].map((s) => s.close()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
