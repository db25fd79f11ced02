/**
 * Capacity: ramps concurrent sessions on near-zero-latency simulated providers and the real Silero VAD until
 * voiceToVoiceMs p95 rises more than 10 % over one session's, or turns go unanswered.
 */
import { summarize } from '../../src/metrics/stats.ts';
import { describeProfile, type PassOptions, run, scenario, withServer } from './passes.ts';
import type { ServerProcess } from './processes.ts';
import { fastProfile } from './profiles.ts';
import { type CapacityResult, type CapacityStep, mib, serverLoad } from './results.ts';

/** Turns a step needs at least, so its p95 is not just its second-worst turn. */
const MIN_TURNS_PER_STEP = 40;
const MAX_UNANSWERED = 0.02;

interface Limits {
  idleRssMiB: number;
  limitP95Ms: number | null;
}

async function runStep(server: ServerProcess, sessions: number, turns: number, limits: Limits) {
  // Starts spread over about one turn, so the load is steady rather than in waves.
  const clientRun = await run(
    scenario(server, sessions, { turns, thinkMs: 500 }, sessions > 1 ? 6000 : 0),
    server,
  );
  const { result } = clientRun;
  const load = serverLoad(clientRun);
  const v2v = summarize(result.records.map((r) => r.voiceToVoiceMs));
  const timeouts = result.turns.filter((t) => t.timedOut).length;
  const unanswered = timeouts + (sessions - result.sessionsConnected) * turns;
  const overLimit = v2v.p95 === null || (limits.limitP95Ms !== null && v2v.p95 > limits.limitP95Ms);
  const step: CapacityStep = {
    sessions,
    connected: result.sessionsConnected,
    turnsPlayed: result.turns.length,
    records: result.records.length,
    timeouts,
    voiceToVoiceMs: v2v,
    pipelineOverheadMs: summarize(result.records.map((r) => r.pipelineOverheadMs)),
    server: load,
    // RSS over the idle server, per session. RSS moves by several MiB as V8 returns memory, so with sessions this
    // light the figure is noise-bound: a value below zero means "smaller than the noise" and is shown as 0.
    rssPerSessionMiB:
      load.peakRssMiB !== null
        ? Math.max(0, Math.round(((load.peakRssMiB - limits.idleRssMiB) / sessions) * 100) / 100)
        : null,
    clientCpuPercent: Math.round((result.cpuMs / Math.max(1, result.wallMs)) * 1000) / 10,
    clientEventLoopP99Ms: Math.round(result.eventLoopP99Ms * 10) / 10,
    errors: result.errors,
    holds: !overLimit && unanswered <= MAX_UNANSWERED * sessions * turns,
  };
  const why = step.holds
    ? ''
    : v2v.p95 === null
      ? `no voice-to-voice figures at ${sessions} sessions`
      : unanswered > MAX_UNANSWERED * sessions * turns
        ? `${unanswered} of ${sessions * turns} turns unanswered at ${sessions} sessions`
        : `voiceToVoiceMs p95 ${v2v.p95} ms > ${limits.limitP95Ms} ms at ${sessions} sessions`;
  return { step, why };
}

export async function capacityPass(o: PassOptions): Promise<CapacityResult> {
  const profile = fastProfile();
  return withServer({ stack: 'simulated', profile }, async (server) => {
    const description = `${server.description}; ${describeProfile(profile)}`;
    o.log(`capacity: ${description}`);
    // Warm-up: model load, JIT, first allocations; then the idle footprint everything is measured against.
    await run(scenario(server, 1, { turns: 1 }), server);
    const limits: Limits = { idleRssMiB: mib((await server.stats()).rssBytes), limitP95Ms: null };
    const steps: CapacityStep[] = [];
    let baselineP95Ms: number | null = null;
    let sessionsHeld: number | null = null;
    let stoppedBecause = `reached the last step (${o.capacitySteps.at(-1)} sessions)`;
    for (const sessions of o.capacitySteps) {
      const turns =
        sessions === 1
          ? o.baselineTurns
          : Math.max(o.capacityTurns, Math.ceil(MIN_TURNS_PER_STEP / sessions));
      let attempt = await runStep(server, sessions, turns, limits);
      log(o, attempt.step);
      if (baselineP95Ms === null && attempt.step.voiceToVoiceMs.p95 !== null) {
        baselineP95Ms = attempt.step.voiceToVoiceMs.p95;
        limits.limitP95Ms = Math.round(baselineP95Ms * 1.1 * 10) / 10;
        attempt.step.holds = true;
        attempt.why = '';
      }
      if (!attempt.step.holds && sessions > 1) {
        // One step over the limit may be a passing burst of other work on the machine: run it once more.
        steps.push(attempt.step);
        o.log('    over the limit: running this step once more');
        attempt = await runStep(server, sessions, turns, limits);
        log(o, attempt.step);
      }
      steps.push(attempt.step);
      if (!attempt.step.holds) {
        stoppedBecause = attempt.why;
        break;
      }
      sessionsHeld = sessions;
    }
    return {
      description,
      idleRssMiB: limits.idleRssMiB,
      baselineP95Ms,
      limitP95Ms: limits.limitP95Ms,
      steps,
      sessionsHeld,
      stoppedBecause,
    };
  });
}

function log(o: PassOptions, s: CapacityStep): void {
  const v = s.voiceToVoiceMs;
  o.log(
    `  ${String(s.sessions).padStart(4)} sessions: v2v p50 ${v.p50?.toFixed(0)} p95 ${v.p95?.toFixed(0)} ms, ` +
      `server CPU ${s.server.cpuPercent} %, other processes ${s.server.otherCpuPercent ?? '—'} %, ` +
      `RSS ${s.server.peakRssMiB} MiB, ${s.timeouts} unanswered${s.holds ? '' : ' — over the limit'}`,
  );
}
