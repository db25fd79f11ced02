import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { UserIdSchema } from '../config/memory-schema.ts';

/** What a client asked for when it opened a session: `createSession` gets it (docs/protocol.md). */
export interface SessionRequest {
  /**
   * The conversation this session continues or starts: the client's `?conversation=` (or the
   * `X-Repartee-Conversation` header); a new id when it named none. A client that reconnects with it (its
   * worker died) resumes the conversation, history included, wherever it lands.
   */
  conversationId: string;
  /** True when the client named the conversation (it may exist), false when the id was made here. */
  conversationGiven: boolean;
  /**
   * The user this session is for (`?user=` or the `X-Repartee-User` header): with `memory.enabled` the session
   * remembers what they said across conversations (docs/memory.md). None: no memory.
   */
  userId?: string;
  /** The token the client presented (already checked when one is required). */
  token?: string;
  client: {
    transport: 'websocket' | 'webrtc';
    /** The peer's address (as the socket sees it; behind a proxy, the proxy's). */
    address?: string;
    forwardedFor?: string;
    userAgent?: string;
    origin?: string;
  };
}

/** Conversation ids are chosen by clients: a bounded, key-safe alphabet. */
const CONVERSATION_ID = /^[A-Za-z0-9_-]{8,100}$/;

export class SessionRequestError extends Error {
  override readonly name = 'SessionRequestError';
}

/** The session request carried by an HTTP request (an upgrade or an offer); throws for a malformed id. */
export function sessionRequestOf(
  request: IncomingMessage,
  transport: SessionRequest['client']['transport'],
): SessionRequest {
  const url = new URL(request.url ?? '/', 'http://localhost');
  const header = request.headers['x-repartee-conversation'];
  const given = url.searchParams.get('conversation') ?? (Array.isArray(header) ? header[0] : header);
  if (given !== undefined && given !== null && !CONVERSATION_ID.test(given)) {
    throw new SessionRequestError('conversation id must be 8 to 100 characters of A-Z a-z 0-9 _ -');
  }
  const userHeader = request.headers['x-repartee-user'];
  const user = url.searchParams.get('user') ?? (Array.isArray(userHeader) ? userHeader[0] : userHeader);
  const userId = user === undefined || user === null ? undefined : UserIdSchema.safeParse(user);
  if (userId && !userId.success) throw new SessionRequestError(userId.error.issues[0].message);
  const bearer = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
  const token = bearer ?? url.searchParams.get('token') ?? undefined;
  const forwarded = request.headers['x-forwarded-for'];
  return {
    conversationId: given ?? randomUUID(),
    conversationGiven: given !== undefined && given !== null,
    ...(userId?.success ? { userId: userId.data } : {}),
    ...(token ? { token } : {}),
    client: {
      transport,
      ...(request.socket.remoteAddress ? { address: request.socket.remoteAddress } : {}),
      ...(forwarded ? { forwardedFor: Array.isArray(forwarded) ? forwarded.join(', ') : forwarded } : {}),
      ...(request.headers['user-agent'] ? { userAgent: request.headers['user-agent'] } : {}),
      ...(request.headers.origin ? { origin: request.headers.origin } : {}),
    },
  };
}
