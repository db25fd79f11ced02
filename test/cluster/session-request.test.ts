/** createSession(request): conversation id, token and client info reach it; a bad id, and draining, are refused. */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { AgentSession } from '../../src/agent/session.ts';
import { type RunningServer, startServer } from '../../src/server/server.ts';
import type { SessionRequest } from '../../src/server/session-request.ts';
import { scriptedSession } from '../../src/transport/websocket/ws.testkit.ts';

let server: RunningServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function upgrade(url: string): Promise<{ status: number; conversation?: string; socket?: WebSocket }> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url, { headers: { 'user-agent': 'cluster-test/1' } });
    socket.once('upgrade', (response) => {
      resolve({ status: 101, conversation: String(response.headers['x-repartee-conversation']), socket });
    });
    socket.once('unexpected-response', (_request, response) => {
      resolve({ status: response.statusCode ?? 0 });
      socket.terminate();
    });
    socket.once('error', () => undefined);
  });
}

describe('the session request', () => {
  it('carries the conversation id, token and client info to createSession, and names the conversation back', async () => {
    const requests: SessionRequest[] = [];
    const sessions: AgentSession[] = [];
    server = await startServer({
      host: '127.0.0.1',
      port: 0,
      webRoot: false,
      healthExtra: () => ({
        redis: 'unreachable',
        reason: 'Redis unreachable: conversations are not stored',
      }),
      createSession: async (request) => {
        requests.push(request);
        const session = scriptedSession();
        sessions.push(session);
        return session;
      },
    });
    const ws = server.url.replace('http', 'ws');
    const named = await upgrade(`${ws}/ws?conversation=conv-12345678`);
    expect(named.status).toBe(101);
    expect(named.conversation).toBe('conv-12345678');
    const anonymous = await upgrade(`${ws}/ws`);
    expect(anonymous.conversation).toMatch(/^[0-9a-f-]{36}$/);
    await new Promise<void>((resolve, reject) => {
      const deadline = Date.now() + 20_000;
      const check = () =>
        requests.length >= 2
          ? resolve()
          : Date.now() > deadline
            ? reject(new Error('no sessions'))
            : setTimeout(check, 20);
      check();
    });
    const first = requests.find((r) => r.conversationId === 'conv-12345678');
    expect(first).toMatchObject({
      conversationGiven: true,
      client: { transport: 'websocket', address: '127.0.0.1', userAgent: 'cluster-test/1' },
    });
    expect(requests.find((r) => r.conversationId === anonymous.conversation)?.conversationGiven).toBe(false);
    // A malformed id is refused before any session exists.
    expect((await upgrade(`${ws}/ws?conversation=${encodeURIComponent('bad id!')}`)).status).toBe(400);
    expect(requests.length).toBe(2);
    // /health carries the cluster's state; its reason makes the status degraded.
    const health = server.health();
    expect(health.status).toBe('degraded');
    expect(health.reason).toMatch(/Redis unreachable/);
    // Draining: no new session; the live ones go on.
    server.drain();
    expect((await upgrade(`${ws}/ws?conversation=conv-abcdefgh`)).status).toBe(503);
    expect(named.socket?.readyState).toBe(WebSocket.OPEN);
    named.socket?.close();
    anonymous.socket?.close();
  });
});
