import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';
import type { AgentSession } from '../agent/session.ts';
import type { WebRtcOptions } from '../transport/webrtc/peer.ts';
import type { WebSocketClientOptions } from '../transport/websocket/connection.ts';
import { definedOnly } from '../util/defined.ts';
import {
  Admission,
  type AdmissionOptions,
  type AdmissionRefusal,
  type AdmissionResult,
  DEFAULT_ADMISSION,
  defaultMaxSessions,
  LOCAL_DECODER_POOL_BYTES,
  LOCAL_SESSION_BYTES,
} from './admission.ts';
import type { Dashboard } from './dashboard.ts';
import { HostGuard, isLoopbackName } from './guard.ts';
import { DEFAULT_LOOP_LAG, LoopLagMonitor, type LoopLagOptions, type LoopLagReport } from './loop-lag.ts';
import type { ModelSetup } from './model-setup.ts';
import { ServerMetrics } from './prometheus.ts';
import { type SessionRequest, SessionRequestError, sessionRequestOf } from './session-request.ts';
import { Signalling } from './signalling.ts';
import { serveStatic } from './static.ts';
import { type TelephonyOptions, TelephonyRoutes } from './telephony.ts';
import { assertStrongToken, generateToken, TokenVerifier, tokenFingerprint } from './token.ts';
import { acceptWebSocket } from './ws-accept.ts';

/** The web client shipped with the repository. */
export const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../web', import.meta.url));

export interface ServerOptions {
  host: string;
  port: number;
  /** Needed from clients when listening beyond loopback; generated when not given. Checked for strength. */
  token?: string;
  /** Public host names (or origins) clients use; loopback names and this machine's addresses are always ours. */
  allowedHosts?: readonly string[];
  /**
   * Admission: `maxSessions` (default: from the measured cost of a local-stack session and this machine's
   * memory, see admission.ts), `maxSessionsPerClient`, `limitLoopbackClients`, `trustedProxies`, `retryAfterSeconds`.
   */
  admission?: Partial<AdmissionOptions>;
  /** Event-loop lag probe, logging and the /health "degraded" threshold. */
  loopLag?: Partial<LoopLagOptions>;
  /** Called for every lag above `loopLag.logAboveMs`, with the sessions and their states at that moment. */
  onEventLoopLag?(report: LoopLagReport): void;
  /** A session for this request: its conversation id (resume), token and client info (session-request.ts). */
  createSession(request: SessionRequest): Promise<AgentSession>;
  onSessionError?(error: Error): void;
  /** More for /health (the cluster's state); a `reason` makes the status "degraded". */
  healthExtra?(): { reason?: string } & Record<string, unknown>;
  /** Folder of the web client served at `/`; false serves none. Default: the repository's `web/`. */
  webRoot?: string | false;
  webrtc?: WebRtcOptions;
  websocket?: WebSocketClientOptions;
  /** The first-run setup API under `/api/setup` (model-setup.ts): what the page shows when no LLM is configured. */
  setup?: Pick<ModelSetup, 'handle'>;
  /** Stored conversations, alerts and experiments: `/dashboard/` and `/api/dashboard/` (dashboard.ts). */
  dashboard?: Pick<Dashboard, 'track' | 'handle'>;
  /** Phone calls: Twilio, Telnyx and Vonage webhooks and media streams under `/telephony/` (telephony.ts). */
  telephony?: TelephonyOptions;
}

export interface Health {
  status: 'ok' | 'degraded';
  sessions: number;
  maxSessions: number;
  /** The largest event-loop lag within the hold window. */
  eventLoopLagMs: number;
  eventLoopDelayP99Ms: number;
  reason?: string;
  /** From `healthExtra` (a cluster worker: Redis, resume, clock skew, draining). */
  cluster?: Record<string, unknown>;
}

export interface RunningServer {
  server: Server;
  url: string;
  token: string | undefined;
  /** What logs may say about the token: the first 8 hex digits of its SHA-256. */
  tokenFingerprint: string | undefined;
  sessions(): number;
  health(): Health;
  /** Takes no new session from now on (503 "draining"); the live ones go on. */
  drain(): void;
  close(): Promise<void>;
}

/**
 * HTTP: the web client at `/`, `/health`, `/metrics`, `/ws` for the WebSocket transport and `/rtc/…` for WebRTC
 * signalling. Every request must name one of our hosts (DNS rebinding) and, from a browser, come from our own
 * page; each connection is its own isolated session, admitted within the process's and the client's limits.
 */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  if (options.token !== undefined) assertStrongToken(options.token);
  // The providers' requests name the public host of the telephony webhooks.
  const allowedHosts = [
    ...(options.allowedHosts ?? []),
    ...(options.telephony ? [new URL(options.telephony.publicUrl).host] : []),
  ];
  // Bad allowedHosts entries fail here, before anything listens.
  new HostGuard({ bindHost: options.host, port: options.port, allowedHosts });
  const token = options.token ?? (isLoopbackName(options.host) ? undefined : generateToken());
  const verifier = token === undefined ? undefined : new TokenVerifier(token);
  const webRoot = options.webRoot ?? DEFAULT_WEB_ROOT;
  const admission = new Admission({
    ...DEFAULT_ADMISSION,
    maxSessions: defaultMaxSessions({
      perSessionBytes: LOCAL_SESSION_BYTES,
      reservedBytes: LOCAL_DECODER_POOL_BYTES,
    }),
    ...definedOnly(options.admission ?? {}),
  });
  const live = new Set<AgentSession>();
  let draining = false;
  const DRAINING: AdmissionResult = {
    ok: false,
    refusal: { status: 503, reason: 'draining: this worker takes no new sessions', retryAfterSeconds: 1 },
  };
  const admit = (request: IncomingMessage): AdmissionResult =>
    draining ? DRAINING : admission.admit(request);
  const loopLag = new LoopLagMonitor(
    { ...DEFAULT_LOOP_LAG, ...definedOnly(options.loopLag ?? {}) },
    {
      onSample: (lagMs) => prometheus.observeLoopLag(lagMs),
      onLag: options.onEventLoopLag,
      describeRunning: () => describeSessions(live),
    },
  );
  const prometheus = new ServerMetrics(() => live.size, {
    loopLag: () => loopLag.snapshot(),
    maxSessions: () => admission.options.maxSessions,
  });
  const track = (session: AgentSession, closed: Promise<void>) => {
    live.add(session);
    prometheus.observe(session);
    options.dashboard?.track(session, closed);
    void closed.then(() => live.delete(session));
  };
  // Webhooks are authenticated by the provider's signature, streams by the one-time token of that answer.
  const telephony = options.telephony
    ? new TelephonyRoutes(options.telephony, track, () => draining || admission.full)
    : undefined;
  const signalling = new Signalling({
    createSession: options.createSession,
    webrtc: options.webrtc,
    track,
    onSessionError: options.onSessionError,
    admit: (request) => {
      const result = admit(request);
      if (!result.ok) prometheus.refused(result.refusal.status === 503 ? 'capacity' : 'client');
      return result;
    },
  });
  const authorized = (request: IncomingMessage, url: URL) => {
    if (!verifier) return true;
    const bearer = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
    const ok = verifier.matches(bearer ?? url.searchParams.get('token') ?? '');
    if (!ok) prometheus.refused('token');
    return ok;
  };
  let guard: HostGuard | undefined; // set once the port is known
  const guarded = (request: IncomingMessage) => {
    const verdict = guard?.check(request.headers) ?? {
      ok: false as const,
      status: 403 as const,
      reason: 'starting',
    };
    if (!verdict.ok) prometheus.refused(verdict.reason.startsWith('cross-origin') ? 'origin' : 'host');
    return verdict;
  };
  const health = (): Health => {
    const lag = loopLag.snapshot();
    const extra = options.healthExtra?.();
    const degraded = lag.degraded || extra?.reason !== undefined;
    return {
      status: degraded ? 'degraded' : 'ok',
      sessions: live.size,
      maxSessions: admission.options.maxSessions,
      eventLoopLagMs: lag.recentMaxMs,
      eventLoopDelayP99Ms: lag.p99Ms,
      ...(lag.degraded
        ? {
            reason: `event-loop lag above ${loopLag.options.degradedAboveMs} ms within the last ${loopLag.options.degradedHoldMs} ms`,
          }
        : extra?.reason !== undefined
          ? { reason: extra.reason }
          : {}),
      ...(extra ? { cluster: extra } : {}),
    };
  };

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const verdict = guarded(request);
    if (!verdict.ok) {
      request.resume();
      return plain(response, verdict.status, `${verdict.reason}\n`);
    }
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (url.pathname === '/health') {
      response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      response.end(JSON.stringify(health()));
      return;
    }
    if (options.dashboard && /^\/(api\/dashboard\/|dashboard$|dashboard\/vendor\/)/.test(url.pathname)) {
      // The page's own files are public code; its data needs the token beyond loopback.
      if (url.pathname.startsWith('/api/') && !authorized(request, url)) {
        request.resume();
        return plain(response, 401, 'a valid ?token= is needed\n');
      }
      if (await options.dashboard.handle(request, response, url)) return;
    }
    if (url.pathname === '/metrics') {
      if (!authorized(request, url)) return plain(response, 401, 'a valid ?token= is needed\n');
      const { contentType, body } = await prometheus.text();
      response.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
      response.end(body);
      return;
    }
    if (url.pathname === '/api/setup' || url.pathname.startsWith('/api/setup/')) {
      if (!authorized(request, url)) {
        request.resume();
        return plain(response, 401, 'a valid ?token= is needed\n');
      }
      if (options.setup && (await options.setup.handle(request, response, url.pathname))) return;
      // A server embedded without the setup API has nothing to say: no content, not an error the page logs.
      if (!options.setup) {
        request.resume();
        response.writeHead(204, { 'cache-control': 'no-store' }).end();
        return;
      }
    } else if (telephony && url.pathname.startsWith('/telephony/')) {
      if (await telephony.handle(request, response, url)) return;
    } else if (url.pathname.startsWith('/rtc/')) {
      if (!authorized(request, url)) {
        request.resume();
        return plain(response, 401, 'a valid ?token= is needed\n');
      }
      if (await signalling.handle(request, response, url.pathname)) return;
    } else if (webRoot && (await serveStatic(webRoot, request, response, url.pathname))) {
      return;
    }
    plain(response, 404, 'not found\n');
  };
  // A client has 10 s to send its request headers and 30 s for a whole request (an SDP offer is small), checked
  // every second: a connection trickling bytes (slowloris) is closed, not held for Node's default 60 s.
  const limits = { headersTimeout: 10_000, requestTimeout: 30_000, connectionsCheckingInterval: 1_000 };
  const server = createServer(limits, (request, response) => {
    handle(request, response).catch((error: Error) => {
      options.onSessionError?.(error);
      if (!response.headersSent) plain(response, 500, 'internal error\n');
      else response.destroy();
    });
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: 1 << 20 });
  // The conversation id goes back on the upgrade's answer: a client that named none learns the one made for it.
  const requests = new WeakMap<IncomingMessage, SessionRequest>();
  wss.on('headers', (headers, request) => {
    const conversation = requests.get(request)?.conversationId;
    if (conversation) headers.push(`X-Repartee-Conversation: ${conversation}`);
  });
  const upgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const verdict = guarded(request);
    if (!verdict.ok) return refuseUpgrade(socket, verdict.status, verdict.reason);
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (telephony?.isStream(url)) {
      const admitted = admit(request);
      if (!admitted.ok)
        return refuseUpgrade(socket, admitted.refusal.status, admitted.refusal.reason, admitted.refusal);
      socket.once('close', admitted.ticket.release);
      return telephony.upgrade(wss, request, socket, head, url);
    }
    if (url.pathname !== '/ws') return refuseUpgrade(socket, 404, 'not found');
    if (!authorized(request, url)) return refuseUpgrade(socket, 401, 'a valid ?token= is needed');
    let sessionRequest: SessionRequest;
    try {
      sessionRequest = sessionRequestOf(request, 'websocket');
    } catch (error) {
      if (error instanceof SessionRequestError) return refuseUpgrade(socket, 400, error.message);
      throw error;
    }
    requests.set(request, sessionRequest);
    const admitted = admit(request);
    if (!admitted.ok) {
      prometheus.refused(admitted.refusal.status === 503 ? 'capacity' : 'client');
      return refuseUpgrade(socket, admitted.refusal.status, admitted.refusal.reason, admitted.refusal);
    }
    // The place is given back when the connection ends, however it ends (a failed handshake included).
    socket.once('close', admitted.ticket.release);
    wss.handleUpgrade(request, socket, head, (ws) =>
      acceptWebSocket(ws, {
        createSession: options.createSession,
        request: sessionRequest,
        track,
        onSessionError: options.onSessionError,
        websocket: options.websocket,
      }),
    );
  };
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    // A throw here would be uncaught and end the process with every session in it.
    try {
      upgrade(request, socket, head);
    } catch (error) {
      options.onSessionError?.(error as Error);
      socket.destroy();
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  guard = new HostGuard({ bindHost: options.host, port, allowedHosts });
  loopLag.start();
  return {
    server,
    url: `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`,
    token,
    tokenFingerprint: token === undefined ? undefined : tokenFingerprint(token),
    sessions: () => live.size,
    health,
    drain: () => {
      draining = true;
    },
    close: async () => {
      loopLag.stop();
      for (const client of wss.clients) client.terminate();
      await signalling.closeAll();
      await Promise.all([...live].map((s) => s.close()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The states of the live sessions, for a lag report: what the loop was busy with, as far as we can know. */
function describeSessions(live: Set<AgentSession>): { sessions: number; states: Record<string, number> } {
  const states: Record<string, number> = {};
  for (const session of live) states[session.state] = (states[session.state] ?? 0) + 1;
  return { sessions: live.size, states };
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  429: 'Too Many Requests',
  503: 'Service Unavailable',
};

function refuseUpgrade(socket: Duplex, status: number, reason: string, refusal?: AdmissionRefusal): void {
  const body = `${reason}\n`;
  const retry = refusal ? `Retry-After: ${refusal.retryAfterSeconds}\r\n` : '';
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n${retry}Connection: close\r\n\r\n${body}`,
  );
}

function plain(response: ServerResponse, status: number, body: string): void {
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  response.end(body);
}
