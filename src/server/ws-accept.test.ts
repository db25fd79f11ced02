import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import type { AgentSession } from '../agent/session.ts';
import { client, scriptedSession, waitUntil } from '../transport/websocket/ws.testkit.ts';
import { acceptWebSocket } from './ws-accept.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function serveSlow(createSession: () => Promise<AgentSession>) {
  const http = createServer();
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', () => resolve()));
  const wss = new WebSocketServer({ server: http });
  const sessions: AgentSession[] = [];
  wss.on('connection', (ws) =>
    acceptWebSocket(ws, {
      createSession: async () => {
        const session = await createSession();
        sessions.push(session);
        return session;
      },
      track: () => {},
    }),
  );
  cleanups.push(async () => {
    for (const peer of wss.clients) peer.terminate();
    await Promise.all(sessions.map((s) => s.close()));
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    http.closeAllConnections();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  });
  return `ws://127.0.0.1:${(http.address() as AddressInfo).port}`;
}

describe('acceptWebSocket while the session starts', () => {
  it('a session slower to start than the page’s silence timeout: pings are answered meanwhile, the client stays', async () => {
    // The page's rule (web/js/websocket-transport.js), scaled down: ping every PING ms, give up after SILENCE ms
    // without a message from the server.
    const PING = 100;
    const SILENCE = 600;
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const url = await serveSlow(async () => {
      await released;
      return scriptedSession();
    });
    const peer = client(url);
    await new Promise<void>((resolve) => peer.ws.once('open', () => resolve()));
    const openedAt = Date.now();
    let lastHeardAt = Date.now();
    let longestSilenceMs = 0;
    let gaveUp = false;
    const pongs: number[] = [];
    peer.ws.on('message', (data, isBinary) => {
      if (!releasedAt) longestSilenceMs = Math.max(longestSilenceMs, Date.now() - lastHeardAt);
      lastHeardAt = Date.now();
      if (!isBinary) {
        const message = JSON.parse(data.toString());
        if (message.type === 'pong') pongs.push(message.t);
      }
    });
    peer.ws.send(JSON.stringify({ type: 'config', sampleRate: 16_000 }));
    let t = 0;
    let lastTickAt = Date.now();
    let releasedAt = 0;
    const timer = setInterval(() => {
      // Judged while the session is held (the phase at stake); a tick this process was late for judges nobody.
      const now = Date.now();
      if (!releasedAt && now - lastTickAt < 2 * PING && now - lastHeardAt > SILENCE) gaveUp = true;
      lastTickAt = now;
      peer.ws.send(JSON.stringify({ type: 'ping', t: ++t }));
    }, PING);
    try {
      // The session is held until well past the silence timeout: answered all along, from before it exists.
      await waitUntil(
        'pongs through three silence timeouts',
        () => Date.now() - openedAt > 3 * SILENCE && pongs.length >= 3,
      );
      expect(peer.types).not.toContain('ready');
      releasedAt = Date.now();
      release();
      await peer.ready();
    } finally {
      clearInterval(timer);
    }
    expect(gaveUp).toBe(false);
    expect(pongs.slice(0, 3)).toEqual([1, 2, 3]);
    expect(longestSilenceMs).toBeLessThan(SILENCE + 2 * PING);
    expect(peer.closed()).toBeUndefined();
    // The held config still reached the session: no error about dropped early messages.
    expect(peer.types).not.toContain('error');
    peer.ws.close();
  });
});
