/** The bench's passes: each starts its own server process and runs one or more client processes against it. */
import { summarize } from '../../src/metrics/stats.ts';
import { describeLatency } from '../../src/providers/simulated-latency.ts';
import type { SessionScript } from './client-session.ts';
import type { ClientScenario, ServerSpec, SimulatedProfile } from './ipc.ts';
import { type ClientRun, runClient, type ServerProcess, startServerProcess } from './processes.ts';
import { cloudProfile, fastProfile, LONG_REPLIES } from './profiles.ts';
import {
  type CapacityResult,
  type CapacityStep,
  type InterruptPass,
  type LatencyPass,
  latencyPass,
  mib,
  type SoakResult,
  serverLoad,
} from './results.ts';

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

async function withServer<T>(spec: ServerSpec, body: (server: ServerProcess) => Promise<T>): Promise<T> {
  const server = await startServerProcess(spec);
  try {
    return await body(server);
  } finally {
    await server.close();
  }
}

function scenario(
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

function run(s: ClientScenario, server: ServerProcess): Promise<ClientRun> {
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
 * Ramps concurrent sessions on near-zero-latency simulated providers and the real Silero VAD until
 * voiceToVoiceMs p95 rises more than 10 % over one session's, or turns go unanswered.
 */
export async function capacityPass(o: PassOptions): Promise<CapacityResult> {
  const profile = fastProfile();
  return withServer({ stack: 'simulated', profile }, async (server) => {
    const description = `${server.description}; ${describeProfile(profile)}`;
    o.log(`capacity: ${description}`);
    // Warm-up: model load, JIT, first allocations; then the idle footprint everything is measured against.
    await run(scenario(server, 1, { turns: 1 }), server);
    const idleRssMiB = mib((await server.stats()).rssBytes);
    const steps: CapacityStep[] = [];
    let baselineP95Ms: number | null = null;
    let limitP95Ms: number | null = null;
    let sessionsHeld: number | null = null;
    let stoppedBecause = `reached the last step (${o.capacitySteps.at(-1)} sessions)`;
    for (const sessions of o.capacitySteps) {
      const turns = sessions === 1 ? o.baselineTurns : o.capacityTurns;
      // Starts spread over about one turn, so the load is steady rather than in waves.
      const s = scenario(server, sessions, { turns, thinkMs: 500 }, sessions > 1 ? 6000 : 0);
      const clientRun = await run(s, server);
      const { result } = clientRun;
      const load = serverLoad(clientRun);
      const v2v = summarize(result.records.map((r) => r.voiceToVoiceMs));
      const timeouts = result.turns.filter((t) => t.timedOut).length;
      const unanswered = timeouts + (sessions - result.sessionsConnected) * turns;
      if (baselineP95Ms === null && v2v.p95 !== null) {
        baselineP95Ms = v2v.p95;
        limitP95Ms = Math.round(v2v.p95 * 1.1 * 10) / 10;
      }
      const holds =
        v2v.p95 !== null &&
        limitP95Ms !== null &&
        v2v.p95 <= limitP95Ms &&
        unanswered <= 0.02 * sessions * turns;
      const step: CapacityStep = {
        sessions,
        connected: result.sessionsConnected,
        turnsPlayed: result.turns.length,
        records: result.records.length,
        timeouts,
        voiceToVoiceMs: v2v,
        pipelineOverheadMs: summarize(result.records.map((r) => r.pipelineOverheadMs)),
        server: load,
        rssPerSessionMiB:
          load.peakRssMiB !== null && idleRssMiB !== null
            ? Math.round(((load.peakRssMiB - idleRssMiB) / sessions) * 100) / 100
            : null,
        clientCpuPercent: Math.round((result.cpuMs / Math.max(1, result.wallMs)) * 1000) / 10,
        clientEventLoopP99Ms: Math.round(result.eventLoopP99Ms * 10) / 10,
        errors: result.errors,
        holds,
      };
      steps.push(step);
      o.log(
        `  ${String(sessions).padStart(4)} sessions: v2v p50 ${v2v.p50?.toFixed(0)} p95 ${v2v.p95?.toFixed(0)} ms, ` +
          `server CPU ${load.cpuPercent}%, other processes ${load.otherCpuPercent ?? '—'}%, RSS ${load.peakRssMiB} MiB, ${timeouts} timeouts${holds ? '' : ' — over the limit'}`,
      );
      if (!holds) {
        stoppedBecause =
          v2v.p95 === null
            ? `no voice-to-voice figures at ${sessions} sessions`
            : unanswered > 0.02 * sessions * turns
              ? `${unanswered} of ${sessions * turns} turns unanswered at ${sessions} sessions`
              : `voiceToVoiceMs p95 ${v2v.p95} ms > ${limitP95Ms} ms at ${sessions} sessions`;
        break;
      }
      sessionsHeld = sessions;
    }
    return { description, idleRssMiB, baselineP95Ms, limitP95Ms, steps, sessionsHeld, stoppedBecause };
  });
}

/** Continuous turns for `soakMs`; server RSS every 10 s, reported per minute, to show leaks. */
export async function soakPass(o: PassOptions): Promise<SoakResult> {
  return withServer({ stack: 'simulated', profile: fastProfile() }, async (server) => {
    o.log(`soak: ${o.soakSessions} sessions for ${Math.round(o.soakMs / 60_000)} min`);
    const s: ClientScenario = {
      ...scenario(server, o.soakSessions, { turns: 1, thinkMs: 500 }, 6000),
      durationMs: o.soakMs,
    };
    const rssCurve: SoakResult['rssCurve'] = [];
    const { result } = await runClient(s, server, {
      timeoutMs: timeoutFor(s),
      sampleEveryMs: 10_000,
      onSample: (atMs, stats) => {
        const minute = Math.floor(atMs / 60_000);
        if (minute >= 1 && !rssCurve.some((p) => p.minute === minute)) {
          rssCurve.push({ minute, rssMiB: mib(stats.rssBytes) });
          o.log(`  minute ${minute}: server RSS ${mib(stats.rssBytes)} MiB`);
        }
      },
    });
    const end = mib((await server.stats()).rssBytes);
    return {
      sessions: o.soakSessions,
      durationMs: o.soakMs,
      turnsPlayed: result.turns.length,
      records: result.records.length,
      rssCurve,
      rssAfter1MinMiB: rssCurve.find((p) => p.minute === 1)?.rssMiB ?? null,
      rssAtEndMiB: end,
      voiceToVoiceMs: summarize(result.records.map((r) => r.voiceToVoiceMs)),
      errors: result.errors,
    };
  });
}
