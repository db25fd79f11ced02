import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import type { AgentSession } from '../agent/session.ts';
import type { WebRtcOptions } from '../transport/webrtc/peer.ts';
import { attachWebSocketClient, type WebSocketClientOptions } from '../transport/websocket/connection.ts';
import { ServerMetrics } from './prometheus.ts';
import { Signalling } from './signalling.ts';
import { serveStatic } from './static.ts';

/** The web client shipped with the repository. */
export const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../web', import.meta.url));

export interface ServerOptions {
  host: string;
  port: number;
  /** Needed from clients when listening beyond loopback; generated when not given. */
  token?: string;
  createSession(): Promise<AgentSession>;
  onSessionError?(error: Error): void;
  /** Folder of the web client served at `/`; false serves none. Default: the repository's `web/`. */
  webRoot?: string | false;
  webrtc?: WebRtcOptions;
  websocket?: WebSocketClientOptions;
}

export interface RunningServer {
  server: Server;
  url: string;
  token: string | undefined;
  sessions(): number;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);
/** Messages held while a session is created (a few seconds of 20 ms audio frames). */
const MAX_EARLY_MESSAGES = 250;
/** …and at most this many bytes of them (about 30 s of 16 kHz PCM16), whatever their sizes. */
const MAX_EARLY_BYTES = 1 << 20;

/**
 * HTTP: the web client at `/`, `/health`, `/ws` for the WebSocket transport and `/rtc/…` for WebRTC signalling.
 * Each connection is its own isolated session; beyond loopback each needs the token.
 */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const token =
    options.token ?? (LOOPBACK.has(options.host) ? undefined : randomBytes(18).toString('base64url'));
  const webRoot = options.webRoot ?? DEFAULT_WEB_ROOT;
  const live = new Set<AgentSession>();
  const prometheus = new ServerMetrics(() => live.size);
  const track = (session: AgentSession, closed: Promise<void>) => {
    live.add(session);
    prometheus.observe(session);
    void closed.then(() => live.delete(session));
  };
  const signalling = new Signalling({
    createSession: options.createSession,
    webrtc: options.webrtc,
    track,
    onSessionError: options.onSessionError,
  });
  const authorized = (url: URL) => !token || sameSecret(url.searchParams.get('token') ?? '', token);

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (url.pathname === '/health') {
      response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      response.end(JSON.stringify({ status: 'ok', sessions: live.size }));
      return;
    }
    if (url.pathname === '/metrics') {
      if (!authorized(url)) return plain(response, 401, 'a valid ?token= is needed\n');
      const { contentType, body } = await prometheus.text();
      response.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
      response.end(body);
      return;
    }
    if (url.pathname.startsWith('/rtc/')) {
      if (!sameOrigin(request)) {
        request.resume();
        return plain(response, 403, 'cross-origin signalling is refused\n');
      }
      if (!authorized(url)) {
        request.resume();
        return plain(response, 401, 'a valid ?token= is needed\n');
      }
      if (await signalling.handle(request, response, url.pathname)) return;
    } else if (webRoot && (await serveStatic(webRoot, request, response, url.pathname))) {
      return;
    }
    plain(response, 404, 'not found\n');
  };
  const server = createServer((request, response) => {
    handle(request, response).catch((error: Error) => {
      options.onSessionError?.(error);
      if (!response.headersSent) plain(response, 500, 'internal error\n');
      else response.destroy();
    });
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: 1 << 20 });
  server.on('upgrade', (request, socket, head) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (url.pathname !== '/ws') return socket.destroy();
    if (!sameOrigin(request)) {
      socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    if (!authorized(url)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\n\r\n');
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => acceptWebSocket(ws));
  });
  const acceptWebSocket = (ws: WebSocket) => {
    // A protocol violation (an oversized frame, invalid UTF-8) is this client's problem: ws closes the socket;
    // without a listener the error would be thrown and take every other session down with the process.
    ws.on('error', (error) => options.onSessionError?.(error));
    // A client may speak first (a `config`, audio): hold its messages until the session is there.
    const early: [RawData, boolean][] = [];
    let earlyBytes = 0;
    let dropped = 0;
    const hold = (data: RawData, isBinary: boolean) => {
      const bytes = rawLength(data);
      if (early.length < MAX_EARLY_MESSAGES && earlyBytes + bytes <= MAX_EARLY_BYTES) {
        early.push([data, isBinary]);
        earlyBytes += bytes;
      } else dropped++;
    };
    ws.on('message', hold);
    options
      .createSession()
      .then(async (session) => {
        if (ws.readyState !== ws.OPEN) return void session.close();
        track(session, new Promise((resolve) => ws.once('close', () => resolve())));
        const attached = attachWebSocketClient(ws, session, options.websocket);
        ws.off('message', hold);
        for (const [data, isBinary] of early.splice(0)) ws.emit('message', data, isBinary);
        if (dropped > 0) {
          const message = `${dropped} messages sent before the session was ready were dropped; wait for "ready"`;
          ws.send(JSON.stringify({ type: 'error', message }));
        }
        await attached;
      })
      .catch((error: Error) => {
        ws.off('message', hold);
        options.onSessionError?.(error);
        if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ type: 'error', message: error.message }));
        ws.close(1011, 'session failed to start');
      });
  };

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
      await signalling.closeAll();
      await Promise.all([...live].map((s) => s.close()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function plain(response: ServerResponse, status: number, body: string): void {
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  response.end(body);
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Browsers send Origin on WebSocket upgrades and cross-site POSTs: a page from another site must not drive a
 * session (on loopback there is no token to stop it). Clients that are not browsers send no Origin.
 */
function sameOrigin(request: IncomingMessage): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === request.headers.host;
  } catch {
    return false;
  }
}

function rawLength(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((sum, part) => sum + part.length, 0);
  return data instanceof ArrayBuffer ? data.byteLength : data.length;
}
