import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { client, frame20ms, LONG_TEXT, serve, servers, waitUntil } from './ws.testkit.ts';

afterEach(async () => {
  for (const served of servers.splice(0)) await served.close();
});

describe('WebSocket liveness', () => {
  it('a client that answers pings stays; one whose pongs stop is cut off and its session ends', async () => {
    const served = await serve();
    const alive = client(served.url);
    const silent = client(served.url, { autoPong: false });
    await Promise.all([alive.ready(), silent.ready()]);
    const silentStarted = Date.now();
    await waitUntil('the silent client dropped', () => served.drops.length === 1);
    const silentForMs = Date.now() - silentStarted;
    expect(served.drops[0].reason).toMatch(/no pong for \d+ ms/);
    expect(served.drops[0].code).toBe(1006);
    await waitUntil('the silent client closed', () => silent.closed() !== undefined);
    expect(served.closedSessions()).toBe(1);
    // The live one keeps answering through several pings and is still connected.
    await waitUntil('three pings', () => alive.pings() >= 3);
    expect(alive.closed()).toBeUndefined();
    expect(served.drops).toHaveLength(1);
    console.log(`a silent WebSocket peer was dropped ${silentForMs} ms after it connected`);
    alive.ws.close();
    await waitUntil('both sessions closed', () => served.closedSessions() === 2);
  });
});

describe('WebSocket bounded input and output', () => {
  it('a client sending audio at 150x real time is dropped with a reason; what reached the session is bounded', async () => {
    const served = await serve();
    const flood = client(served.url);
    await flood.ready();
    const started = performance.now();
    let sentMs = 0;
    // 150x real time: 3 s of audio every 20 ms, until the server closes the socket.
    while (flood.ws.readyState === WebSocket.OPEN && sentMs < 600_000) {
      const targetMs = (performance.now() - started) * 150;
      while (sentMs < targetMs && flood.ws.readyState === WebSocket.OPEN) {
        flood.ws.send(frame20ms);
        sentMs += 20;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await waitUntil('the flood closed', () => flood.closed() !== undefined);
    const elapsedMs = performance.now() - started;
    // 1008 with the reason goes out first; a flooder too busy to read it in the close grace may see only 1006.
    const closed = flood.closed();
    expect([1008, 1006]).toContain(closed?.code);
    if (closed?.code === 1008) expect(closed.reason).toMatch(/faster than real time/);
    expect(served.drops[0]).toMatchObject({ code: 1008 });
    expect(served.drops[0].reason).toMatch(/faster than real time/);
    expect(served.closedSessions()).toBe(1);
    // At most the 2 s allowance plus real time reached the pipeline; the rest was discarded unprocessed.
    expect(served.acceptedMs()).toBeLessThanOrEqual(2000 + elapsedMs + 20);
    console.log(
      `flood: sent ${sentMs} ms of audio in ${elapsedMs.toFixed(0)} ms; ${served.acceptedMs()} ms accepted`,
    );
  });

  it('a burst after a stall passes up to 2 s; beyond, the excess is discarded with one warning, the client stays', async () => {
    const served = await serve();
    const burst = client(served.url);
    await burst.ready();
    for (let i = 0; i < 150; i++) burst.ws.send(frame20ms); // 3 s at once
    for (let i = 0; i < 25; i++) {
      burst.ws.send(frame20ms);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    burst.ws.send(JSON.stringify({ type: 'ping', t: 7 }));
    await waitUntil('the pong', () => burst.types.includes('pong'));
    // 2 s of the burst (a few frames more as real time passed while it arrived), then the real-time audio.
    expect(served.acceptedMs()).toBeGreaterThanOrEqual(2000);
    expect(served.acceptedMs()).toBeLessThan(150 * 20 + 25 * 20);
    expect(burst.types.filter((t) => t === 'error')).toHaveLength(1);
    expect(burst.closed()).toBeUndefined();
    expect(served.drops).toEqual([]);
    burst.ws.close();
  });

  it('a client that never reads is dropped once the audio it left unread passes the bound', async () => {
    // Pings off: a client that reads nothing also misses its pongs, and that would drop it first.
    const served = await serve(
      { maxUnsentAudioMs: 1000, pongTimeoutMs: 600_000, outputSampleRate: 48_000 },
      true,
    );
    const started = Date.now();
    const reader = client(served.url);
    const stalled = client(served.url);
    await Promise.all([reader.ready(), stalled.ready()]);
    // Stops reading from the socket: the kernel's buffers fill, then the server's.
    const raw = (stalled.ws as unknown as { _socket: { pause(): void } })._socket;
    raw.pause();
    const session = served.sessions[1];
    void session.say(LONG_TEXT).catch(() => undefined);
    void served.sessions[0].say('A short reply for the client who reads.').catch(() => undefined);
    await waitUntil('the stalled client dropped', () => served.drops.length > 0, 120_000);
    expect(served.drops[0].reason).toMatch(/not reading: \d+\.\d s of audio unread/);
    expect(served.drops[0].sessionId).toBe(session.id);
    console.log(`a client that stopped reading was dropped after ${Date.now() - started} ms`);
    await waitUntil('its session closed', () => served.isClosed(session));
    // The reading client is unaffected.
    await waitUntil('the reader heard its reply', () => reader.types.includes('speechEnded'), 30_000);
    expect(reader.closed()).toBeUndefined();
    reader.ws.close();
  }, 150_000);
});
