/**
 * Runs chaos scenarios against one server: a baseline canary first, then each scenario with the canary talking
 * through it, and after it the checks — the canary's v2v p95 against the baseline and its missed replies, the
 * worst /health answer, RSS back near where it started, and no session, client socket or UDP socket left.
 */

import { ServeProcess, type SocketCounts } from '../../serve-process.ts';
import { type CanaryResult, runCanary } from './canary.ts';
import { openClient, sleep, within } from './clients.ts';
import { FaultLlm } from './fault-llm.ts';
import type { ChaosForm, Scenario } from './scenario.ts';
import { until, type WatchResult, watchServer } from './watch.ts';

export interface ChaosBounds {
  /** The canary's v2v p95 may grow by this fraction of its baseline. */
  v2vP95Growth: number;
  /** …plus this many ms (0 in the bench; a loaded CI machine's scheduling noise in the test form). */
  v2vSlackMs: number;
  healthMs: number;
  /** RSS after a scenario may exceed its value before by this fraction. */
  rssGrowth: number;
  /** How long sessions and sockets get to go after a scenario before they count as leaked. */
  settleMs: number;
  /** A canary turn with no reply within this after its clip is a missed reply. */
  canaryTurnTimeoutMs: number;
}

/**
 * The test form's bounds (npm test, on a CI machine that may be loaded by other work): they catch a freeze
 * (/health silent for seconds), a stall of the canary, leaks and runaway memory, not a 20 % latency shift,
 * which only the bench form on a quiet machine can measure.
 */
export const TEST_BOUNDS: ChaosBounds = {
  v2vP95Growth: 2,
  v2vSlackMs: 5000,
  healthMs: 3000,
  rssGrowth: 0.25,
  settleMs: 30_000,
  // On a CPU-starved machine the canary's pipeline falls behind real time (seen: 30 s at load 23 on 2 cores);
  // a reply that never comes is what this form catches.
  canaryTurnTimeoutMs: 60_000,
};

export const BENCH_BOUNDS: ChaosBounds = {
  v2vP95Growth: 0.2,
  v2vSlackMs: 0,
  healthMs: 100,
  rssGrowth: 0.1,
  settleMs: 30_000,
  canaryTurnTimeoutMs: 20_000,
};

export interface ChaosEnv {
  server: ServeProcess;
  llm: FaultLlm;
  form: ChaosForm;
  canaryTurns: number;
  baseline: CanaryResult;
  /** Scenarios that add load stop adding it once the server's RSS passes this (protects the machine). */
  rssGuardBytes: number;
  close(): Promise<string>;
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface ScenarioResult {
  scenario: string;
  what: string;
  canary: CanaryResult;
  baseline: CanaryResult;
  watch: WatchResult;
  rssBeforeBytes: number;
  rssAfterBytes: number;
  socketsBefore: SocketCounts;
  socketsAfter: SocketCounts;
  sessionsAfter: number;
  observed: Record<string, string | number>;
  error?: string;
  serverAlive: boolean;
  checks: Check[];
  ok: boolean;
  /** What the server logged during the scenario (the last 200 kB of it). */
  serverLog: string;
  wallMs: number;
}

export async function startChaos(options: {
  form: ChaosForm;
  canaryTurns: number;
  rssGuardBytes?: number;
  log?: (line: string) => void;
}): Promise<ChaosEnv> {
  const log = options.log ?? (() => undefined);
  const llm = await FaultLlm.start();
  const server = await ServeProcess.start({
    args: ['--llm', llm.spec, '--stt', 'local', '--tts', 'local', '--vad', 'silero'],
    env: { REPARTEE_LLM_MAX_TOKENS: '64' },
    cleanEnv: true,
  });
  log(`server ${server.url} (pid ${server.pid}); LLM fake on :${llm.port}`);
  try {
    // One turn first: the first decoder, voice and model connection cost more than any later one. Beside it, a few
    // long replies cut off by a closing client: the first long synthesis and the first mid-reply teardown grow
    // the heaps once (measured: +50-90 MiB on the first such scenario, then flat over three repeats), and RSS
    // after a scenario is to be compared with a server that has done such work before, not with a cold one.
    await Promise.all([runCanary(server, { turns: 1 }), closeStoriesMidReply(server, 3)]);
    const baseline = await runCanary(server, { turns: options.canaryTurns });
    log(
      `baseline canary: v2v ${baseline.voiceToVoiceMs.map(Math.round).join(', ')} ms; missed ${baseline.missed}`,
    );
    return {
      server,
      llm,
      form: options.form,
      canaryTurns: options.canaryTurns,
      baseline,
      rssGuardBytes: options.rssGuardBytes ?? 6 * 2 ** 30,
      close: async () => {
        const how = await server.stop();
        await llm.close();
        return how;
      },
    };
  } catch (error) {
    await server.stop();
    await llm.close();
    throw error;
  }
}

async function closeStoriesMidReply(server: ServeProcess, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const client = openClient(server.wsUrl);
    await within(client.ready, 20_000, undefined);
    client.ws.send(JSON.stringify({ type: 'text', text: 'Hello, tell me a story please.' }));
    await within(client.firstAudio, 20_000, undefined);
    await sleep(150 * i);
    client.ws.close();
    await within(client.closed, 5_000, undefined);
  }
}

const settled = (server: ServeProcess, before: SocketCounts) => async () => {
  if (!server.alive) return true;
  const health = await server.health();
  const now = server.sockets();
  return health.sessions === 0 && now.clientTcp <= before.clientTcp && now.udp <= before.udp;
};

export async function runScenario(
  env: ChaosEnv,
  scenario: Scenario,
  bounds: ChaosBounds,
): Promise<ScenarioResult> {
  const t0 = performance.now();
  const { server } = env;
  await until(settled(server, server.sockets()), bounds.settleMs);
  const logMark = server.mark();
  const rssBeforeBytes = server.rssBytes();
  const socketsBefore = server.sockets();
  const watch = watchServer(server, { boundMs: bounds.healthMs });
  let markCanaryDone!: () => void;
  const canaryDone = new Promise<void>((resolve) => {
    markCanaryDone = resolve;
  });
  const startMisbehaviour = () =>
    scenario
      .run({
        server,
        llm: env.llm,
        form: env.form,
        canaryDone,
        peakRssBytes: watch.peakRssBytes,
        rssGuardBytes: env.rssGuardBytes,
      })
      .then(
        (observed) => ({ observed, error: undefined }),
        (error: Error) => ({ observed: {}, error: error.stack ?? error.message }),
      );
  let misbehaviour: ReturnType<typeof startMisbehaviour> | undefined;
  if (!scenario.startsAfterCanary) {
    misbehaviour = startMisbehaviour();
    // The misbehaviour gets a head start so the canary talks through it, not before it.
    await new Promise((r) => setTimeout(r, 500));
  }
  const sessionsBefore = (await server.health()).sessions ?? 0;
  const canaryRun = runCanary(server, {
    turns: env.canaryTurns,
    turnTimeoutMs: bounds.canaryTurnTimeoutMs,
  });
  if (scenario.startsAfterCanary) {
    // A call already in progress when the server fills up: it must keep going; new ones may be refused.
    const admitted = async () => ((await server.health()).sessions ?? 0) > sessionsBefore;
    await until(admitted, 20_000, 50);
    misbehaviour = startMisbehaviour();
  }
  const canary = await canaryRun.catch(
    (error: Error): CanaryResult => ({
      turns: env.canaryTurns,
      voiceToVoiceMs: [],
      p50Ms: null,
      p95Ms: null,
      missed: env.canaryTurns,
      missedWhy: [`canary failed: ${error.message.slice(0, 300)}`],
      errors: {},
      stagesP50Ms: {},
    }),
  );
  markCanaryDone();
  const { observed, error } = await (misbehaviour ?? startMisbehaviour());
  await until(settled(server, socketsBefore), bounds.settleMs, 250);
  const rssLimit = rssBeforeBytes * (1 + bounds.rssGrowth);
  // Memory comes back more slowly than sockets (GC, allocator): give it the same time again.
  await until(() => !server.alive || server.rssBytes() <= rssLimit, bounds.settleMs, 500);
  const result = await watch.stop();
  const serverAlive = server.alive;
  const rssAfterBytes = serverAlive ? server.rssBytes() : Number.NaN;
  const socketsAfter = serverAlive ? server.sockets() : { clientTcp: -1, outboundTcp: -1, udp: -1, fds: -1 };
  const sessionsAfter = serverAlive ? ((await server.health()).sessions ?? -1) : -1;
  const baseP95 = env.baseline.p95Ms ?? Number.NaN;
  const v2vLimit = baseP95 * (1 + bounds.v2vP95Growth) + bounds.v2vSlackMs;
  const mib = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MiB`;
  const checks: Check[] = [
    {
      name: 'server alive',
      ok: serverAlive,
      detail: serverAlive ? 'yes' : `died: ${server.log().slice(-600)}`,
    },
    {
      name: 'canary v2v p95',
      ok: canary.p95Ms !== null && canary.p95Ms <= v2vLimit,
      detail: `${fmt(canary.p95Ms)} ms vs limit ${Math.round(v2vLimit)} ms (baseline ${fmt(baseP95)} ms)`,
    },
    {
      name: 'canary replies',
      ok: canary.missed === 0,
      detail: canary.missed ? canary.missedWhy.join('; ') : 'none missed',
    },
    {
      name: '/health',
      ok: result.failures === 0 && result.maxHealthMs <= bounds.healthMs,
      detail: `max ${Math.round(result.maxHealthMs)} ms over ${result.polls} polls (bound ${bounds.healthMs} ms), ${result.failures} failed${
        result.slow.length
          ? `; slow: ${result.slow
              .map((s) => `${s.latencyMs} ms at ${s.atMs}${s.error ? ` (${s.error})` : ''}`)
              .slice(0, 5)
              .join(', ')}`
          : ''
      }`,
    },
    {
      name: 'RSS back',
      ok: rssAfterBytes <= rssLimit,
      detail: `${mib(rssBeforeBytes)} → ${mib(rssAfterBytes)} (limit ${mib(rssLimit)}, peak ${mib(result.peakRssBytes)})`,
    },
    { name: 'sessions left', ok: sessionsAfter === 0, detail: String(sessionsAfter) },
    {
      name: 'sockets left',
      ok: socketsAfter.clientTcp <= socketsBefore.clientTcp && socketsAfter.udp <= socketsBefore.udp,
      detail: `client TCP ${socketsBefore.clientTcp} → ${socketsAfter.clientTcp}, UDP ${socketsBefore.udp} → ${socketsAfter.udp}, provider TCP ${socketsBefore.outboundTcp} → ${socketsAfter.outboundTcp}, fds ${socketsBefore.fds} → ${socketsAfter.fds}`,
    },
    { name: 'misbehaviour ran', ok: error === undefined, detail: error ?? 'yes' },
  ];
  const unmet = error === undefined ? scenario.expected?.(observed) : undefined;
  if (scenario.expected) checks.push({ name: 'server handled it', ok: !unmet, detail: unmet ?? 'yes' });
  return {
    scenario: scenario.name,
    what: scenario.what,
    canary,
    baseline: env.baseline,
    watch: result,
    rssBeforeBytes,
    rssAfterBytes,
    socketsBefore,
    socketsAfter,
    sessionsAfter,
    observed,
    error,
    serverAlive,
    checks,
    ok: checks.every((c) => c.ok),
    serverLog: server.log(logMark),
    wallMs: Math.round(performance.now() - t0),
  };
}

const fmt = (ms: number | null) => (ms === null || Number.isNaN(ms) ? '—' : String(Math.round(ms)));

/** One line per failed check, for a test's failure message. */
export function failures(result: ScenarioResult): string {
  return result.checks
    .filter((c) => !c.ok)
    .map((c) => `${result.scenario}: ${c.name}: ${c.detail}`)
    .join('\n');
}
