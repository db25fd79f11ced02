import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { AgentSession } from '../../agent/session.ts';
import type { AudioFrame } from '../../audio/frame.ts';
import { MonotonicClock } from '../../metrics/clock.ts';
import { ScriptedLlm } from '../../providers/llm/scripted.ts';
import { ScriptedStt } from '../../providers/stt/scripted.ts';
import { ScriptedTts } from '../../providers/tts/scripted.ts';
import { ScriptedVad } from '../../providers/vad/scripted.ts';
import { attachWebSocketClient, type ClientDrop, type WebSocketClientOptions } from './connection.ts';

const LONG_TEXT = 'The quick brown fox jumps over the lazy dog and keeps running through the night. '.repeat(
  8,
);

interface Served {
  url: string;
  sessions: AgentSession[];
  closedSessions: () => number;
  isClosed: (session: AgentSession) => boolean;
  drops: ClientDrop[];
  /** Audio that reached a session, in ms. */
  acceptedMs: () => number;
  close(): Promise<void>;
}

const servers: Served[] = [];
afterEach(async () => {
  for (const served of servers.splice(0)) await served.close();
});

/** A bare WebSocket server with one scripted session per client, attached as the real server does. */
async function serve(options: WebSocketClientOptions = {}, unixSocket = false): Promise<Served> {
  const clock = new MonotonicClock();
  // A Unix socket has fixed, small kernel buffers (TCP on loopback autotunes to megabytes): a client that
  // stops reading fills them within seconds, so the server's own buffer is what grows.
  const http = createServer();
  const path = join(tmpdir(), `repartee-ws-${process.pid}-${Math.random().toString(36).slice(2)}.sock`);
  await new Promise<void>((resolve) =>
    unixSocket ? http.listen(path, () => resolve()) : http.listen(0, '127.0.0.1', () => resolve()),
  );
  const wss = new WebSocketServer({ server: http });
  const sessions: AgentSession[] = [];
  const drops: ClientDrop[] = [];
  const closed = new Set<AgentSession>();
  let acceptedMs = 0;
  wss.on('connection', (ws) => {
    const session = new AgentSession({
      vad: new ScriptedVad({ speech: [] }),
      stt: new ScriptedStt({ clock, words: [] }),
      llm: new ScriptedLlm({ clock, reply: () => LONG_TEXT }),
      tts: new ScriptedTts({ clock, ttfbMs: 5, realTimeFactor: 0.01 }),
      clock,
      providerFailure: { presynthesizeApology: false },
    });
    const push = session.pushAudio.bind(session);
    session.pushAudio = (frame: AudioFrame) => {
      acceptedMs += (frame.samples.length * 1000) / frame.sampleRate;
      push(frame);
    };
    const close = session.close.bind(session);
    session.close = async () => {
      closed.add(session);
      await close();
    };
    sessions.push(session);
    void attachWebSocketClient(ws, session, { ...options, onDropped: (drop) => drops.push(drop) });
  });
  const served: Served = {
    url: unixSocket ? `ws+unix://${path}:/` : `ws://127.0.0.1:${(http.address() as AddressInfo).port}`,
    sessions,
    closedSessions: () => closed.size,
    isClosed: (session) => closed.has(session),
    drops,
    acceptedMs: () => acceptedMs,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      await Promise.all(sessions.map((s) => s.close()));
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
  servers.push(served);
  return served;
}

async function waitUntil(what: string, predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function client(url: string, options: WebSocket.ClientOptions = {}) {
  const ws = new WebSocket(url, options);
  const types: string[] = [];
  let pings = 0;
  let closed: { code: number; reason: string } | undefined;
  ws.on('message', (data, isBinary) => types.push(isBinary ? 'audio' : JSON.parse(data.toString()).type));
  ws.on('ping', () => pings++);
  ws.on('close', (code, reason) => {
    closed = { code, reason: reason.toString() };
  });
  ws.on('error', () => {});
  return {
    ws,
    types,
    pings: () => pings,
    closed: () => closed,
    ready: () => waitUntil('ready', () => types.includes('ready')),
  };
}

const frame20ms = Buffer.alloc(640);

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
    const served = await serve({ maxAudioAheadMs: 2000 });
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
    expect(flood.closed()?.code).toBe(1008);
    expect(flood.closed()?.reason).toMatch(/faster than real time/);
    expect(served.drops[0]).toMatchObject({ code: 1008 });
    expect(served.drops[0].reason).toMatch(/faster than real time/);
    expect(flood.types).toContain('error');
    expect(served.closedSessions()).toBe(1);
    // At most the burst allowance plus real time reached the pipeline.
    expect(served.acceptedMs()).toBeLessThanOrEqual(2000 + elapsedMs + 20);
    console.log(
      `flood: sent ${sentMs} ms of audio in ${elapsedMs.toFixed(0)} ms; ${served.acceptedMs()} ms accepted`,
    );
  });

  it('a burst of held audio (as after start-up) followed by real time is not a flood', async () => {
    const served = await serve();
    const burst = client(served.url);
    await burst.ready();
    for (let i = 0; i < 250; i++) burst.ws.send(frame20ms); // 5 s at once
    for (let i = 0; i < 25; i++) {
      burst.ws.send(frame20ms);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    burst.ws.send(JSON.stringify({ type: 'ping', t: 7 }));
    await waitUntil('the pong', () => burst.types.includes('pong'));
    expect(served.acceptedMs()).toBe(275 * 20);
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
