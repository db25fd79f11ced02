import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { client, serve, servers, waitUntil } from './ws.testkit.ts';

afterEach(async () => {
  for (const served of servers.splice(0)) await served.close();
});

describe('a TCP client that keeps sending but never reads', () => {
  it('asking story after story, it is dropped with a reason within a bound; a reading client stays', async () => {
    // Real TCP on loopback: the kernel's buffers absorb megabytes before ws.bufferedAmount grows, so the
    // unread-audio bound alone never fires (chaos scenario client-never-reads). Default options.
    const served = await serve({ outputSampleRate: 48_000 });
    const reader = client(served.url);
    const mute = client(served.url);
    await Promise.all([reader.ready(), mute.ready()]);
    const raw = (mute.ws as unknown as { _socket: { pause(): void } })._socket;
    raw.pause(); // reads nothing from here on: no audio, no pings
    const started = Date.now();
    let asked = 0;
    const timer = setInterval(() => {
      if (mute.ws.readyState !== WebSocket.OPEN) return;
      mute.ws.send(JSON.stringify({ type: 'text', text: `Tell me story number ${++asked}.` }));
    }, 500);
    try {
      await waitUntil('the non-reader dropped', () => served.drops.length > 0, 40_000);
    } finally {
      clearInterval(timer);
    }
    const droppedAfterMs = Date.now() - started;
    expect(served.drops[0].sessionId).toBe(served.sessions[1].id);
    expect(served.drops[0].code).toBe(1008);
    expect(served.drops[0].reason).toMatch(/not reading/);
    // maxUnsentAudioMs (5 s) + pongTimeoutMs (2.5 s), a tick of slack and a loaded machine's lag.
    expect(droppedAfterMs).toBeLessThan(15_000);
    await waitUntil('its session closed', () => served.isClosed(served.sessions[1]));
    console.log(`a sending non-reader was dropped after ${droppedAfterMs} ms, having asked ${asked} times`);
    // The reader, which sent nothing after ready and answers every ping, is untouched.
    reader.ws.send(JSON.stringify({ type: 'ping', t: 1 }));
    await waitUntil('the reader’s pong', () => reader.types.includes('pong'));
    expect(reader.closed()).toBeUndefined();
    expect(served.drops).toHaveLength(1);
    reader.ws.close();
  }, 60_000);
});
