import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { SessionRequestError, sessionRequestOf } from './session-request.ts';

function request(url: string, headers: Record<string, string> = {}): IncomingMessage {
  return { url, headers, socket: { remoteAddress: '127.0.0.1' } } as unknown as IncomingMessage;
}

describe('the session request: the user id for memory across conversations', () => {
  it('comes from ?user= or the X-Repartee-User header (a phone number too); none: no user', () => {
    expect(sessionRequestOf(request('/ws?user=alice_01'), 'websocket').userId).toBe('alice_01');
    expect(
      sessionRequestOf(request('/rtc/offer', { 'x-repartee-user': '+33612345678' }), 'webrtc').userId,
    ).toBe('+33612345678');
    expect(sessionRequestOf(request('/ws?user=a.b%40example.com'), 'websocket').userId).toBe(
      'a.b@example.com',
    );
    expect(sessionRequestOf(request('/ws'), 'websocket').userId).toBeUndefined();
  });

  it('is validated at the boundary with a clear error', () => {
    for (const bad of ['', 'x'.repeat(129), 'al ice', 'bob;drop', '../etc'])
      expect(() => sessionRequestOf(request(`/ws?user=${encodeURIComponent(bad)}`), 'websocket')).toThrow(
        new SessionRequestError(
          'user id must be 1 to 128 characters of A-Z a-z 0-9 _ . @ - (a leading + allowed)',
        ),
      );
  });
});
