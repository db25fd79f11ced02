import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AgentSession } from '../agent/session.ts';
import { checkOffer, OfferError, WebRtcConnection, type WebRtcOptions } from '../transport/webrtc/peer.ts';
import { asError } from '../util/errors.ts';
import type { AdmissionResult } from './admission.ts';
import { type SessionRequest, sessionRequestOf } from './session-request.ts';

const MAX_BODY_BYTES = 64 * 1024;
const SESSION_PATH = /^\/rtc\/sessions\/([A-Za-z0-9-]{1,100})$/;
/**
 * Ids of sessions that have ended, so a hang-up's DELETE that arrives after the peer connection already closed
 * (the page closes it first; the server notices within milliseconds) is a clean 204, not a 404. Bounded: the
 * oldest ids are forgotten first.
 */
const ENDED_IDS_KEPT = 4096;

export interface SignallingOptions {
  createSession(request: SessionRequest): Promise<AgentSession>;
  webrtc?: WebRtcOptions;
  /** Counts the session as live until it closes. */
  track(session: AgentSession, closed: Promise<void>): void;
  onSessionError?(error: Error): void;
  /** Takes a session place for this client, or says why not (503/429 with Retry-After). */
  admit?(request: IncomingMessage): AdmissionResult;
}

/**
 * WebRTC signalling over plain HTTP (docs/protocol.md): `POST /rtc/offer` with the complete SDP offer answers
 * 201 with the SDP answer and a `Location: /rtc/sessions/<id>`; `DELETE` on that URL ends the session.
 */
export class Signalling {
  private readonly connections = new Map<string, WebRtcConnection>();
  private readonly endedIds = new Set<string>();

  constructor(private readonly options: SignallingOptions) {}

  /** True when the request was for signalling (and has been answered). */
  async handle(request: IncomingMessage, response: ServerResponse, pathname: string): Promise<boolean> {
    if (pathname === '/rtc/offer') {
      if (request.method === 'POST') await this.offer(request, response);
      else methodNotAllowed(response, 'POST');
      return true;
    }
    const match = SESSION_PATH.exec(pathname);
    if (!match) return false;
    if (request.method !== 'DELETE') {
      methodNotAllowed(response, 'DELETE');
      return true;
    }
    const connection = this.connections.get(match[1]);
    if (!connection) {
      // Already ended (the usual hang-up order) is done; only an id this server never gave out is unknown.
      if (this.endedIds.has(match[1])) response.writeHead(204).end();
      else text(response, 404, 'no such session\n');
      return true;
    }
    await connection.close();
    response.writeHead(204);
    response.end();
    return true;
  }

  private rememberEnded(id: string): void {
    this.endedIds.add(id);
    if (this.endedIds.size > ENDED_IDS_KEPT) {
      const oldest = this.endedIds.values().next().value;
      if (oldest !== undefined) this.endedIds.delete(oldest);
    }
  }

  get size(): number {
    return this.connections.size;
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.connections.values()].map((c) => c.close()));
  }

  private async offer(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const type = (request.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (type !== 'application/sdp') {
      text(response, 415, 'send the offer as Content-Type: application/sdp\n');
      request.resume();
      return;
    }
    let sdp: string;
    try {
      sdp = await readBody(request, MAX_BODY_BYTES);
    } catch {
      text(response, 413, `offer larger than ${MAX_BODY_BYTES} bytes\n`);
      return;
    }
    try {
      checkOffer(sdp); // before a session exists: garbage costs nothing; its messages are ours
    } catch (error) {
      text(response, 400, `${asError(error).message}\n`);
      return;
    }
    let sessionRequest: SessionRequest;
    try {
      sessionRequest = sessionRequestOf(request, 'webrtc');
    } catch (error) {
      text(response, 400, `${asError(error).message}\n`);
      return;
    }
    const admitted = this.options.admit?.(request);
    if (admitted && !admitted.ok) {
      const { status, reason, retryAfterSeconds } = admitted.refusal;
      text(response, status, `${reason}\n`, { 'retry-after': String(retryAfterSeconds) });
      return;
    }
    const release = admitted?.ticket.release ?? (() => {});
    let session: AgentSession;
    try {
      session = await this.options.createSession(sessionRequest);
    } catch (error) {
      release();
      // The cause (a provider's message, a path) goes to the log; the client gets our words.
      this.options.onSessionError?.(asError(error));
      text(response, 500, 'the session could not start\n');
      return;
    }
    try {
      const { connection, answerSdp } = await WebRtcConnection.answer(sdp, session, this.options.webrtc);
      const id = connection.sessionId;
      this.connections.set(id, connection);
      this.options.track(session, connection.closed);
      void connection.closed.then(() => {
        this.connections.delete(id);
        this.rememberEnded(id);
        release();
      });
      response.writeHead(201, {
        'content-type': 'application/sdp',
        location: `/rtc/sessions/${encodeURIComponent(id)}`,
        // The client reconnects with it (docs/protocol.md) when this worker is lost.
        'x-repartee-conversation': sessionRequest.conversationId,
        'cache-control': 'no-store',
      });
      response.end(answerSdp);
    } catch (error) {
      // answer() has closed the session; nothing is left behind. Its errors carry werift's own messages:
      // those go to the log, not to the client.
      release();
      this.options.onSessionError?.(asError(error));
      if (error instanceof OfferError)
        text(response, 400, 'the offer could not be answered (malformed or unsupported SDP)\n');
      else text(response, 500, 'cannot answer the offer\n');
    }
  }
}

function readBody(request: IncomingMessage, maxBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      // Past the limit the rest is drained unread, so the 413 still reaches the client.
      if (size > maxBytes) reject(new Error(`offer larger than ${maxBytes} bytes`));
      else chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function methodNotAllowed(response: ServerResponse, allow: string): void {
  response.writeHead(405, { allow, 'content-type': 'text/plain; charset=utf-8' });
  response.end('method not allowed\n');
}

function text(
  response: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
): void {
  if (response.headersSent) return;
  response.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'cache-control': 'no-store',
    ...headers,
  });
  response.end(body);
}
