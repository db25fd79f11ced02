/**
 * Naming the user of a session after it was made: the WebSocket `config` message's `user` (docs/memory.md). The
 * code that made the session registers how to take a user (src/config/session.ts: memory across conversations);
 * a transport only asks. Kept beside the session, not in it, so transports need no other wiring.
 */
const takers = new WeakMap<object, (userId: string) => string | undefined>();

/** `take` returns a refusal (shown to the client) or undefined once the user is taken. */
export function acceptSessionUser(session: object, take: (userId: string) => string | undefined): void {
  takers.set(session, take);
}

/** Names the user of `session`: a refusal when it cannot take one (memory off, a bad id, already named). */
export function nameSessionUser(session: object, userId: string): string | undefined {
  const take = takers.get(session);
  return take ? take(userId) : 'this server does not keep memory for users (memory.enabled is off)';
}
