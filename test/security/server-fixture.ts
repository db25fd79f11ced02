import { request } from 'node:http';
import WebSocket from 'ws';
import { AgentSession } from '../../src/agent/session.ts';
import { MonotonicClock } from '../../src/metrics/clock.ts';
import { ScriptedLlm } from '../../src/providers/llm/scripted.ts';
import { ScriptedStt } from '../../src/providers/stt/scripted.ts';
import { ScriptedTts } from '../../src/providers/tts/scripted.ts';
import { EnergyVad } from '../../src/providers/vad/energy.ts';
import { type RunningServer, type ServerOptions, startServer } from '../../src/server/server.ts';

/**
 * The real server (`startServer`: the real HTTP, WebSocket and signalling code) with scripted providers, so the
 * tests of its doors (hosts, origins, tokens, admission) run fast and the same on any machine. The conversation
 * behind the door is real: typed text gets a spoken reply.
 */
export async function startScriptedServer(
  options: Partial<ServerOptions> = {},
): Promise<{ running: RunningServer; created: () => number }> {
  const clock = new MonotonicClock();
  let created = 0;
  const running = await startServer({
    host: '127.0.0.1',
    port: 0,
    createSession: async () => {
      created++;
      return new AgentSession({
        clock,
        vad: new EnergyVad({ minSilenceMs: 100 }),
        stt: new ScriptedStt({ clock, words: [] }),
        llm: new ScriptedLlm({ clock, reply: () => 'Hello from Repartee.' }),
        tts: new ScriptedTts({ clock, ttfbMs: 5, msPerCharacter: 20 }),
        endpointing: { minDelayMs: 50 },
      });
    },
    ...options,
  });
  return { running, created: () => created };
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request with exactly the headers given (fetch would not let a test set Host). */
export function rawRequest(
  running: RunningServer,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<RawResponse> {
  const { hostname, port } = new URL(running.url);
  return new Promise((resolve, reject) => {
    const req = request(
      { hostname, port, path, method: init.method ?? 'GET', headers: init.headers },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(init.body);
  });
}

export type UpgradeResult =
  | { kind: 'open'; ws: WebSocket; messages: Record<string, unknown>[]; audio: () => number }
  | { kind: 'refused'; status: number; headers: Record<string, string | string[] | undefined>; body: string };

/** Opens /ws with these headers; resolves with the open socket or the HTTP refusal. */
export function upgrade(
  running: RunningServer,
  headers: Record<string, string> = {},
  path = '/ws',
): Promise<UpgradeResult> {
  const ws = new WebSocket(`${running.url.replace('http', 'ws')}${path}`, { headers });
  const messages: Record<string, unknown>[] = [];
  let audioBytes = 0;
  ws.on('message', (data, isBinary) => {
    if (isBinary) audioBytes += (data as Buffer).length;
    else messages.push(JSON.parse(data.toString()));
  });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ kind: 'open', ws, messages, audio: () => audioBytes }));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => {
        body += chunk;
      });
      res.on('end', () =>
        resolve({ kind: 'refused', status: res.statusCode ?? 0, headers: res.headers, body }),
      );
    });
    ws.once('error', (error) => reject(error));
  });
}

/** Polls until the condition holds (never a fixed wait); throws with `what` after the deadline (generous: a loaded machine). */
export async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Opens /ws and holds a conversation: `ready`, then a typed turn answered with audio. */
export async function converse(running: RunningServer, headers: Record<string, string>): Promise<void> {
  const result = await upgrade(running, headers);
  if (result.kind !== 'open') throw new Error(`refused: ${result.status} ${result.body}`);
  try {
    await until(() => result.messages.some((m) => m.type === 'ready'), '"ready"');
    result.ws.send(JSON.stringify({ type: 'text', text: 'Hello, tell me a story please.' }));
    await until(() => result.audio() > 0, 'reply audio');
  } finally {
    result.ws.close();
  }
}

/** Passes the cheap SDP checks, then fails in werift's parser: reaches admission and the answer step. */
export const PARSER_BREAKING_OFFER =
  'v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\na=fingerprint:sha-256 00\r\n' +
  'm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n';
