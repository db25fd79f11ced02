import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket, { WebSocketServer } from 'ws';
import { AgentSession } from '../../agent/session.ts';
import type { AudioFrame } from '../../audio/frame.ts';
import { MonotonicClock } from '../../metrics/clock.ts';
import { ScriptedLlm } from '../../providers/llm/scripted.ts';
import { ScriptedStt } from '../../providers/stt/scripted.ts';
import { ScriptedTts } from '../../providers/tts/scripted.ts';
import { ScriptedVad } from '../../providers/vad/scripted.ts';
import { attachWebSocketClient, type ClientDrop, type WebSocketClientOptions } from './connection.ts';

/** Test helpers: a bare WebSocket server attaching scripted sessions as the real server does, and clients. */

export const LONG_TEXT =
  'The quick brown fox jumps over the lazy dog and keeps running through the night. '.repeat(8);

export interface Served {
  url: string;
  sessions: AgentSession[];
  closedSessions: () => number;
  isClosed: (session: AgentSession) => boolean;
  drops: ClientDrop[];
  /** Audio that reached a session, in ms. */
  acceptedMs: () => number;
  close(): Promise<void>;
}

/** A session of scripted providers that answers every request with LONG_TEXT. */
export function scriptedSession(clock = new MonotonicClock()): AgentSession {
  return new AgentSession({
    vad: new ScriptedVad({ speech: [] }),
    stt: new ScriptedStt({ clock, words: [] }),
    llm: new ScriptedLlm({ clock, reply: () => LONG_TEXT }),
    tts: new ScriptedTts({ clock, ttfbMs: 5, realTimeFactor: 0.01 }),
    clock,
    providerFailure: { presynthesizeApology: false },
  });
}

/** Every server started; close them after each test. */
export const servers: Served[] = [];

/** A bare WebSocket server with one scripted session per client, attached as the real server does. */
export async function serve(options: WebSocketClientOptions = {}, unixSocket = false): Promise<Served> {
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
    const session = scriptedSession(clock);
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

export async function waitUntil(what: string, predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export function client(url: string, options: WebSocket.ClientOptions = {}) {
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

export const frame20ms = Buffer.alloc(640);
