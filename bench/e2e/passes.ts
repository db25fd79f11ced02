/** The bench's passes: each starts its own server process and runs one or more client processes against it. */
import { summarize } from '../../src/metrics/stats.ts';
import { describeLatency } from '../../src/providers/simulated-latency.ts';
import type { SessionScript } from './client-session.ts';
import type { ClientScenario, ServerSpec, SimulatedProfile } from './ipc.ts';
import { type ClientRun, runClient, type ServerProcess, startServerProcess } from './processes.ts';
import { cloudProfile, fastProfile, LONG_REPLIES } from './profiles.ts';
import { type InterruptPass, type LatencyPass, latencyPass, mib, type SoakResult } from './results.ts';

export interface PassOptions {
  /** Turns per session in the latency passes. */
  turns: number;
  /** Concurrent sessions in the simulated latency pass. */
  sessions: number;
  bargeIns: number;
  /** `llama:<path>` for the local stack. */
  localLlm: string;
  llmMaxTokens: number;
  capacitySteps: number[];
  capacityTurns: number;
  baselineTurns: number;
  soakMs: number;
  soakSessions: number;
  log: (line: string) => void;
}

const TURN_TIMEOUT_MS = 20_000;
/** The longest clip is 7.1 s; a turn with its reply and a timeout fits in this. */
const TURN_BUDGET_MS = 30_000;

const baseScript: Omit<SessionScript, 'clipOffset' | 'startDelayMs' | 'untilMs'> = {
  mode: 'turns',
  turns: 1,
  warmupTurns: 0,
  thinkMs: 300,
  bargeInAfterMs: 600,
  turnTimeoutMs: TURN_TIMEOUT_MS,
};

export async function withServer<T>(
  spec: ServerSpec,
  body: (server: ServerProcess) => Promise<T>,
): Promise<T> {
  const server = await startServerProcess(spec);
  try {
    return await body(server);
  } finally {
    await server.close();
  }
}

export function scenario(
  server: ServerProcess,
  sessions: number,
  script: Partial<ClientScenario['script']>,
  staggerMs = 0,
) {
  return {
    url: server.url,
    sessions,
    staggerMs,
    connectConcurrency: 16,
    connectTimeoutMs: 30_000,
    script: { ...baseScript, ...script },
  } satisfies ClientScenario;
}

const timeoutFor = (s: ClientScenario) =>
  60_000 + s.staggerMs + (s.script.turns + s.script.warmupTurns) * TURN_BUDGET_MS + (s.durationMs ?? 0);

export function run(s: ClientScenario, server: ServerProcess): Promise<ClientRun> {
  return runClient(s, server, { timeoutMs: timeoutFor(s) });
}

export function describeProfile(p: SimulatedProfile): string {
  return (
    `STT final ${describeLatency(p.sttFinal)}, LLM TTFT ${describeLatency(p.llmTtft)} at ` +
    `${p.llmTokensPerSecond} tok/s, TTS TTFB ${describeLatency(p.ttsTtfb)} at RTF ${p.ttsRealTimeFactor}`
  );
}

/** One session on the embedded local stack; its first turn warms the model up and is not counted. */
export async function localPass(o: PassOptions): Promise<LatencyPass> {
  return withServer({ stack: 'local', llm: o.localLlm, llmMaxTokens: o.llmMaxTokens }, async (server) => {
    o.log(`local: ${server.description}, max ${o.llmMaxTokens} tokens per reply`);
    const s = scenario(server, 1, { turns: o.turns, warmupTurns: 1 });
    return latencyPass('local', server.description, 1, await run(s, server));
  });
}

export async function simulatedPass(o: PassOptions): Promise<LatencyPass> {
  const profile = cloudProfile();
  return withServer({ stack: 'simulated', profile }, async (server) => {
    const description = `${server.description}; ${describeProfile(profile)}`;
    o.log(`simulated: ${description}; ${o.sessions} sessions`);
    const s = scenario(server, o.sessions, { turns: o.turns }, 2000);
    return latencyPass('simulated', description, o.sessions, await run(s, server));
  });
}

/** Scripted barge-ins on cloud-like providers: each clip after the first talks over the reply to the one before. */
export async function interruptPass(o: PassOptions): Promise<InterruptPass> {
  const profile = cloudProfile(LONG_REPLIES);
  return withServer({ stack: 'simulated', profile }, async (server) => {
    const description = `${server.description}; ${describeProfile(profile)}`;
    o.log(`interrupt: ${o.bargeIns} barge-ins, ${baseScript.bargeInAfterMs} ms into each reply`);
    const s = scenario(server, 1, { mode: 'bargeIn', turns: o.bargeIns + 1 });
    const clientRun = await run(s, server);
    const pass = latencyPass('interrupt', description, 1, clientRun);
    const bargeIns = clientRun.result.turns.filter((t) => t.kind === 'bargeIn');
    return {
      ...pass,
      bargeIns: bargeIns.length,
      interruptionsMeasured: pass.metrics.interruptionStopMs.count,
      clientStopMs: summarize(bargeIns.map((t) => t.clientStopMs)),
      droppedAfterClearMs: Math.round(clientRun.result.droppedAfterClearMs),
    };
  });
}

/**
 * Continuous turns for `soakMs`; every 10 s the server collects garbage and reports RSS and live heap, so a leak
 * shows as growth from minute 1 to the end.
 */
export async function soakPass(o: PassOptions): Promise<SoakResult> {
  return withServer({ stack: 'simulated', profile: fastProfile() }, async (server) => {
    o.log(`soak: ${o.soakSessions} sessions for ${Math.round(o.soakMs / 60_000)} min`);
    const s: ClientScenario = {
      ...scenario(server, o.soakSessions, { turns: 1, thinkMs: 500 }, 6000),
      durationMs: o.soakMs,
    };
    const curve: SoakResult['curve'] = [];
    const { result } = await runClient(s, server, {
      timeoutMs: timeoutFor(s),
      sampleEveryMs: 10_000,
      gcBeforeSample: true,
      onSample: (atMs, stats) => {
        const minute = Math.floor(atMs / 60_000);
        if (minute < 1 || curve.some((p) => p.minute === minute)) return;
        const point = {
          minute,
          rssMiB: mib(stats.rssBytes),
          heapUsedMiB: mib(stats.heapUsedBytes),
          sessions: stats.sessions,
        };
        curve.push(point);
        o.log(`  minute ${minute}: server RSS ${point.rssMiB} MiB, live heap ${point.heapUsedMiB} MiB`);
      },
    });
    let end = await server.stats(true);
    for (let i = 0; i < 50 && end.sessions > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      end = await server.stats(true);
    }
    return {
      sessions: o.soakSessions,
      durationMs: o.soakMs,
      turnsPlayed: result.turns.length,
      records: result.records.length,
      timeouts: result.turns.filter((t) => t.timedOut).length,
      curve,
      // Measured while the sessions are still open (the last sample before the client finished).
      rssAfter1MinMiB: curve.find((p) => p.minute === 1)?.rssMiB ?? null,
      rssAtEndMiB: curve.at(-1)?.rssMiB ?? null,
      heapAfter1MinMiB: curve.find((p) => p.minute === 1)?.heapUsedMiB ?? null,
      heapAtEndMiB: curve.at(-1)?.heapUsedMiB ?? null,
      afterCloseRssMiB: mib(end.rssBytes),
      afterCloseHeapMiB: mib(end.heapUsedBytes),
      voiceToVoiceMs: summarize(result.records.map((r) => r.voiceToVoiceMs)),
      errors: result.errors,
    };
  });
}
