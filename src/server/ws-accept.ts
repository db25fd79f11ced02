import { randomUUID } from 'node:crypto';
import type { RawData, WebSocket } from 'ws';
import type { AgentSession } from '../agent/session.ts';
import { attachWebSocketClient, type WebSocketClientOptions } from '../transport/websocket/connection.ts';
import type { SessionRequest } from './session-request.ts';

/** Messages held while a session is created (a few seconds of 20 ms audio frames). */
const MAX_EARLY_MESSAGES = 250;
/** …and at most this many bytes of them (about 30 s of 16 kHz PCM16), whatever their sizes. */
const MAX_EARLY_BYTES = 1 << 20;

export interface AcceptWebSocketOptions {
  createSession(request: SessionRequest): Promise<AgentSession>;
  /** What the client asked for (conversation id, token, client info), read from the upgrade request. */
  request?: SessionRequest;
  /** Counts the session as live until it closes. */
  track(session: AgentSession, closed: Promise<void>): void;
  onSessionError?(error: Error): void;
  websocket?: WebSocketClientOptions;
}

/**
 * Gives an upgraded socket its own session. A client may speak first (a `config`, audio): its messages are held,
 * within bounds, until the session is there. A failure is logged in full and told to the client in our words.
 */
export function acceptWebSocket(ws: WebSocket, options: AcceptWebSocketOptions): void {
  // A protocol violation (an oversized frame, invalid UTF-8) is this client's problem: ws closes the socket;
  // without a listener the error would be thrown and take every other session down with the process.
  ws.on('error', (error) => options.onSessionError?.(error));
  const early: [RawData, boolean][] = [];
  let earlyBytes = 0;
  let dropped = 0;
  const hold = (data: RawData, isBinary: boolean) => {
    // Liveness is answered from the moment the socket is accepted: a session start slower than the page's
    // silence timeout (model warm-up under load) must not read as a dead server.
    if (!isBinary && answerPing(ws, data)) return;
    const bytes = rawLength(data);
    if (early.length < MAX_EARLY_MESSAGES && earlyBytes + bytes <= MAX_EARLY_BYTES) {
      early.push([data, isBinary]);
      earlyBytes += bytes;
    } else dropped++;
  };
  ws.on('message', hold);
  options
    .createSession(
      options.request ?? {
        conversationId: randomUUID(),
        conversationGiven: false,
        client: { transport: 'websocket' },
      },
    )
    .then(async (session) => {
      if (ws.readyState !== ws.OPEN) return void session.close();
      options.track(session, new Promise((resolve) => ws.once('close', () => resolve())));
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
      early.length = 0;
      options.onSessionError?.(error);
      // The cause (a provider's message, a path) stays in the server log.
      if (ws.readyState === ws.OPEN)
        ws.send(JSON.stringify({ type: 'error', message: 'the session could not start' }));
      ws.close(1011, 'session failed to start');
    });
}

/** Answers a protocol `ping` (docs/protocol.md) with its `pong`; false for any other message. */
function answerPing(ws: WebSocket, data: RawData): boolean {
  if (rawLength(data) > 200) return false;
  let message: unknown;
  try {
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer);
    message = JSON.parse(bytes.toString());
  } catch {
    return false; // held; the session's bridge reports it
  }
  if (typeof message !== 'object' || message === null || (message as { type?: unknown }).type !== 'ping')
    return false;
  const t = (message as { t?: unknown }).t;
  if (ws.readyState === ws.OPEN)
    ws.send(JSON.stringify(typeof t === 'number' ? { type: 'pong', t } : { type: 'pong' }));
  return true;
}

function rawLength(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((sum, part) => sum + part.length, 0);
  return data instanceof ArrayBuffer ? data.byteLength : data.length;
}
