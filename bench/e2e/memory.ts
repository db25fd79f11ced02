/**
 * Memory per session, as the server's RSS shows it, for the local stack (pocketsphinx, Silero, local TTS, llama)
 * and the simulated cloud-like stack: N idle WebSocket sessions (connected and configured, nobody speaking),
 * then N sessions speaking at once, then RSS once they have all closed. Per-session figures are over the warmed
 * idle server; the speaking figure counts what is only held while someone speaks (decoders, audio buffers).
 */
import WebSocket from 'ws';
import type { ServerSpec } from './ipc.ts';
import { describeProfile, type PassOptions, run, scenario, withServer } from './passes.ts';
import type { ServerProcess } from './processes.ts';
import { cloudProfile } from './profiles.ts';
import { type MemoryResult, type MemoryRow, mib, serverLoad } from './results.ts';

const IDLE_SESSIONS = 40;
const SPEAKING_SESSIONS = 8;

function openIdleSession(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/ws`);
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error('no ready within 30 s'));
    }, 30_000);
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('open', () => socket.send(JSON.stringify({ type: 'config', sampleRate: 16_000 })));
    socket.on('message', (data, isBinary) => {
      if (!isBinary && JSON.parse(data.toString()).type === 'ready') {
        clearTimeout(timer);
        resolve(socket);
      }
    });
  });
}

/** RSS once `sessions` are open (closing ones have ended), after a full GC and the allocator trim's moment. */
async function settledRss(server: ServerProcess, sessions = 0): Promise<number> {
  const deadline = Date.now() + 60_000;
  while ((await server.stats()).sessions !== sessions && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
  }
  // The native heap is trimmed 1 s and 10 s after the last stream closes.
  await new Promise((r) => setTimeout(r, 12_000));
  const stats = await server.stats(true);
  if (stats.sessions !== sessions) console.log(`    (${stats.sessions} sessions open, expected ${sessions})`);
  return stats.rssBytes;
}

async function measure(stack: string, server: ServerProcess, o: PassOptions): Promise<MemoryRow> {
  // Warm-up: models, JIT and the first decoder; the idle footprint everything is measured against.
  await run(scenario(server, 1, { turns: 1 }), server);
  const idleRss = await settledRss(server);
  const sockets: WebSocket[] = [];
  for (let i = 0; i < IDLE_SESSIONS; i += 8) {
    sockets.push(...(await Promise.all(Array.from({ length: 8 }, () => openIdleSession(server.url)))));
  }
  const withIdle = await settledRss(server, IDLE_SESSIONS);
  for (const socket of sockets) socket.close();
  const beforeSpeaking = await settledRss(server);
  const speaking = await run(scenario(server, SPEAKING_SESSIONS, { turns: 2 }, 0), server);
  const peak = serverLoad(speaking).peakRssMiB;
  const afterClose = await settledRss(server);
  const row: MemoryRow = {
    stack,
    idleServerRssMiB: mib(idleRss),
    idleSessions: IDLE_SESSIONS,
    rssPerIdleSessionMiB: Math.round(((withIdle - idleRss) / IDLE_SESSIONS / 1024 / 1024) * 100) / 100,
    speakingSessions: SPEAKING_SESSIONS,
    speakingPeakRssMiB: peak,
    rssPerSpeakingSessionMiB:
      peak === null ? null : Math.round(((peak - mib(beforeSpeaking)) / SPEAKING_SESSIONS) * 100) / 100,
    afterCloseRssMiB: mib(afterClose),
  };
  o.log(
    `  ${stack}: idle server ${row.idleServerRssMiB} MiB; ${row.rssPerIdleSessionMiB} MiB per idle session; ` +
      `${row.rssPerSpeakingSessionMiB} MiB per speaking session (peak ${peak} MiB); ` +
      `${row.afterCloseRssMiB} MiB after all closed`,
  );
  return row;
}

export async function memoryPass(o: PassOptions): Promise<MemoryResult> {
  const profile = cloudProfile();
  const stacks: [string, ServerSpec][] = [
    ['local', { stack: 'local', llm: o.localLlm, llmMaxTokens: o.llmMaxTokens }],
    ['simulated', { stack: 'simulated', profile }],
  ];
  const rows: MemoryRow[] = [];
  o.log(`memory: ${IDLE_SESSIONS} idle sessions, then ${SPEAKING_SESSIONS} speaking at once, per stack`);
  for (const [name, spec] of stacks) {
    if (spec.stack === 'local' && !o.localLlm) continue;
    rows.push(await withServer(spec, (server) => measure(name, server, o)));
  }
  return { description: `simulated: ${describeProfile(profile)}`, rows };
}
