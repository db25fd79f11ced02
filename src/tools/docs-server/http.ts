import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { HostGuard } from './http-guard.ts';

export interface StreamableHttpOptions {
  host?: string;
  /** 0 picks a free port. */
  port: number;
  /** Largest JSON-RPC request body. */
  maxBodyBytes?: number;
  /**
   * A session with no request in progress for this long is closed, with its server instance, so clients that
   * vanish without a DELETE do not leak; a request for it then gets 404 "Session not found" and the client
   * initialises anew. An open GET notification stream does not keep a session alive. Default 10 minutes.
   */
  sessionIdleTimeoutMs?: number;
  /**
   * Most sessions open at once (each holds a server instance); one more initialize gets 503 with a message
   * saying so, until a client closes its session (DELETE) or an idle one expires. Default 100.
   */
  maxSessions?: number;
  /**
   * More names (with or without `:port`) clients reach the server by, e.g. through a proxy. The bound address
   * and the loopback names are always accepted; any other `Host` gets 403 (DNS-rebinding protection, on every bind).
   */
  allowedHosts?: readonly string[];
  /** More page origins (`scheme://host[:port]`) allowed besides `http://<an accepted host>`; others get 403. */
  allowedOrigins?: readonly string[];
  onError?(error: Error): void;
  /** A session began, or ended: deleted by its client, expired, or closed with the endpoint. */
  onSession?(event: SessionEvent): void;
}

export type SessionEvent =
  | { type: 'opened'; sessionId: string }
  | { type: 'closed'; sessionId: string; reason: 'deleted' | 'expired' | 'shutdown' };

interface Session {
  transport: StreamableHTTPServerTransport;
  server: McpServer;
  /** POST and DELETE requests being handled. */
  busy: number;
  idleTimer: NodeJS.Timeout | undefined;
  closeReason: 'deleted' | 'expired' | 'shutdown';
}

export interface HttpEndpoint {
  url: string;
  close(): Promise<void>;
}

const MCP_PATH = '/mcp';
/** JSON-RPC error codes: the body is not JSON; the body is not a request this endpoint accepts here. */
const PARSE_ERROR = -32700;
const INVALID_REQUEST = -32600;

/**
 * Hosts an MCP server over Streamable HTTP at `/mcp`. Each client session gets its own server instance (the SDK
 * binds one server to one transport), so progress and cancellation reach the request they belong to. There is no
 * authentication: keep it on loopback (the default) or a trusted network. Every request's Host and Origin are
 * checked first (see http-guard.ts), and the number of sessions is capped.
 */
export async function serveStreamableHttp(
  createMcpServer: () => McpServer,
  options: StreamableHttpOptions,
): Promise<HttpEndpoint> {
  const host = options.host ?? '127.0.0.1';
  const maxBodyBytes = options.maxBodyBytes ?? 4 * 1024 * 1024;
  const idleTimeoutMs = options.sessionIdleTimeoutMs ?? 10 * 60_000;
  const maxSessions = options.maxSessions ?? 100;
  if (!Number.isInteger(maxSessions) || maxSessions < 1)
    throw new TypeError('maxSessions must be a whole number of at least 1');
  HostGuard.validate(options);
  const sessions = new Map<string, Session>();
  /** Initialize requests being answered: they count against the cap before their session exists. */
  let opening = 0;
  const report = (error: unknown) =>
    options.onError?.(error instanceof Error ? error : new Error(String(error)));
  let guard: HostGuard | undefined;

  const armIdleTimer = (session: Session) => {
    clearTimeout(session.idleTimer);
    session.idleTimer = undefined;
    if (session.busy > 0) return;
    session.idleTimer = setTimeout(() => {
      session.closeReason = 'expired';
      session.transport.close().catch(report);
    }, idleTimeoutMs);
    session.idleTimer.unref();
  };
  /** Handles a request of a session; POST and DELETE keep it busy (not idle) until their response ends. */
  const handleInSession = async (
    session: Session,
    req: IncomingMessage,
    res: ServerResponse,
    body?: unknown,
  ) => {
    if (req.method === 'GET') {
      armIdleTimer(session);
      return session.transport.handleRequest(req, res);
    }
    session.busy++;
    clearTimeout(session.idleTimer);
    session.idleTimer = undefined;
    res.once('close', () => {
      session.busy--;
      if (sessions.has(session.transport.sessionId ?? '')) armIdleTimer(session);
    });
    if (req.method === 'DELETE') session.closeReason = 'deleted';
    return session.transport.handleRequest(req, res, body);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    // Before anything else, on every path and method: a rebound page learns nothing, not even what is served.
    const verdict = guard?.check(req) ?? { ok: false, message: 'not ready' };
    if (!verdict.ok) return reply(res, 403, verdict.message);
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== MCP_PATH) return reply(res, 404, 'not found: the MCP endpoint is /mcp');
    const sessionId = header(req, 'mcp-session-id');
    if (req.method === 'POST') {
      const body = await readJson(req, maxBodyBytes);
      if (!body.ok) return reply(res, body.status, body.message, body.code);
      const existing = sessionId ? sessions.get(sessionId) : undefined;
      if (existing) return handleInSession(existing, req, res, body.value);
      if (sessionId) return sessionNotFound(res);
      if (!isInitializeRequest(body.value))
        return reply(res, 400, 'the first request must be initialize', INVALID_REQUEST);
      if (sessions.size + opening >= maxSessions) {
        res.setHeader('retry-after', '5');
        return reply(
          res,
          503,
          `too many open sessions (the limit is ${maxSessions}); close one (DELETE /mcp) or retry once idle ` +
            'sessions have expired',
        );
      }
      opening++;
      try {
        return await openSession(req, res, body.value);
      } finally {
        opening--;
      }
    }
    if (req.method === 'GET' || req.method === 'DELETE') {
      const existing = sessionId ? sessions.get(sessionId) : undefined;
      if (!existing) return sessionId ? sessionNotFound(res) : reply(res, 400, 'missing MCP session id');
      return handleInSession(existing, req, res);
    }
    res.setHeader('allow', 'GET, POST, DELETE');
    return reply(res, 405, 'method not allowed');
  };

  /** A new session and its own server instance, answering the initialize request that opened it. */
  const openSession = async (req: IncomingMessage, res: ServerResponse, initialize: unknown) => {
    const server = createMcpServer();
    let session: Session | undefined;
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        session = { transport, server, busy: 0, idleTimer: undefined, closeReason: 'shutdown' };
        sessions.set(id, session);
        options.onSession?.({ type: 'opened', sessionId: id });
        armIdleTimer(session);
      },
      // Host and Origin are checked above for every request, by one rule for every bind.
      enableDnsRebindingProtection: false,
    });
    transport.onclose = () => {
      const id = transport.sessionId;
      if (session) clearTimeout(session.idleTimer);
      if (id && sessions.get(id) === session) {
        sessions.delete(id);
        if (session) options.onSession?.({ type: 'closed', sessionId: id, reason: session.closeReason });
      }
      server.close().catch(report);
    };
    await server.connect(transport);
    return transport.handleRequest(req, res, initialize);
  };

  const http: Server = createServer((req, res) => {
    handle(req, res).catch((error) => {
      report(error);
      if (!res.headersSent) reply(res, 500, 'internal error');
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port, host, () => {
      http.off('error', reject);
      resolve();
    });
  });
  const { port } = http.address() as AddressInfo;
  const hostInUrl = host.includes(':') ? `[${host}]` : host;
  guard = new HostGuard({
    host,
    port,
    allowedHosts: options.allowedHosts,
    allowedOrigins: options.allowedOrigins,
  });
  return {
    url: `http://${hostInUrl}:${port}${MCP_PATH}`,
    async close() {
      await Promise.all(
        [...sessions.values()].map((session) => {
          clearTimeout(session.idleTimer);
          session.closeReason = 'shutdown';
          return session.transport.close().catch(report);
        }),
      );
      sessions.clear();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function reply(res: ServerResponse, status: number, message: string, code = -32000): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }));
}

/** The protocol's answer for an unknown or expired session: the client must initialise a new one. */
function sessionNotFound(res: ServerResponse): void {
  reply(res, 404, 'Session not found', -32001);
}

async function readJson(
  req: IncomingMessage,
  maxBytes: number,
): Promise<{ ok: true; value: unknown } | { ok: false; status: number; message: string; code?: number }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) return { ok: false, status: 413, message: `request body over ${maxBytes} bytes` };
    chunks.push(chunk as Buffer);
  }
  try {
    return { ok: true, value: JSON.parse(Buffer.concat(chunks).toString('utf8')) };
  } catch {
    // JSON-RPC's parse error, as the specification asks for malformed JSON.
    return {
      ok: false,
      status: 400,
      message: 'Parse error: the request body is not valid JSON',
      code: PARSE_ERROR,
    };
  }
}
