import { afterEach, describe, expect, it } from 'vitest';
import { client, serve, servers, waitUntil } from './ws.testkit.ts';

afterEach(async () => {
  for (const served of servers.splice(0)) await served.close();
});

const count = (kind: string) => process.getActiveResourcesInfo().filter((r) => r === kind).length;

type Point =
  | 'before first audio'
  | 'at the first audio'
  | 'mid-reply'
  | 'while waiting for receipts'
  | 'after';

/**
 * A client that vanishes at some point of a reply: closing gracefully or cutting the TCP connection (no close
 * frame). Every variant must end the session and its speech, and leave no timer or socket behind.
 */
describe('a client vanishes mid-reply', () => {
  const points: Point[] = [
    'before first audio',
    'at the first audio',
    'mid-reply',
    'while waiting for receipts',
    'after',
  ];
  for (const how of ['close', 'terminate'] as const) {
    it(`${how}: at every point of a reply the session ends and nothing is left`, async () => {
      const served = await serve();
      const timersBefore = count('Timeout');
      const socketsBefore = count('TCPSocketWrap');
      for (const [index, point] of points.entries()) {
        const peer = client(served.url);
        await peer.ready();
        const session = served.sessions[index];
        const ended: string[] = [];
        session.on('speechEnded', ({ outcome }) => ended.push(outcome));
        if (point === 'while waiting for receipts') {
          // The server then waits for `started` / `finished` receipts that will never come.
          peer.ws.send(JSON.stringify({ type: 'config', receipts: true }));
        }
        peer.ws.send(JSON.stringify({ type: 'text', text: 'Tell me a long story.' }));
        if (
          point === 'at the first audio' ||
          point === 'while waiting for receipts' ||
          point === 'mid-reply'
        ) {
          await waitUntil('the first audio', () => peer.types.includes('audio'));
        }
        if (point === 'mid-reply') {
          const audioAt = peer.types.filter((t) => t === 'audio').length;
          await waitUntil('more audio', () => peer.types.filter((t) => t === 'audio').length >= audioAt + 10);
        }
        if (point === 'after') {
          served.sessions[index].say('Short.').catch(() => undefined);
          await waitUntil('a speech ended', () => ended.length > 0, 30_000);
        }
        if (how === 'close') peer.ws.close();
        else peer.ws.terminate();
        await waitUntil(`session ${point} closed`, () => served.isClosed(session));
        await waitUntil(
          `the speech ${point} ended`,
          () => ended.length > 0 || point === 'before first audio',
        );
        expect(session.state).toBe('idle');
      }
      expect(served.closedSessions()).toBe(points.length);
      // Ping timers, receipt waits, pacing sleeps and sockets are all gone.
      // Well inside the heartbeat's 2.5 s: a ping timer left running would still be there.
      await waitUntil('timers back to the baseline', () => count('Timeout') <= timersBefore, 2000);
      await waitUntil('sockets back to the baseline', () => count('TCPSocketWrap') <= socketsBefore);
    }, 120_000);
  }
});
