/** The shapes of the bench's results, as written to bench/results/e2e.json and rendered as tables. */
import { type Summary, summarize } from '../../src/metrics/stats.ts';
import type { ClientRun } from './processes.ts';
import { LATENCY_METRICS, type LatencyMetric } from './protocol.ts';
import type { RepeatedPass } from './repeated.ts';

export interface ServerLoad {
  /** CPU of the server process over the run, in % of one core (200 % = both cores of this box). */
  cpuPercent: number | null;
  peakRssMiB: number | null;
  eventLoopP99Ms: number | null;
  /**
   * CPU of everything else on the machine meanwhile (all processes − server − client), in % of one core: other
   * work on a shared box competes with the server and skews every figure, so it is reported beside them.
   */
  otherCpuPercent: number | null;
}

export interface LatencyPass {
  name: string;
  description: string;
  sessions: number;
  turnsPlayed: number;
  records: number;
  timeouts: number;
  failures: string[];
  errors: Record<string, number>;
  metrics: Record<LatencyMetric, Summary>;
  /** Client clock: the clip's last voiced sample sent (energy reference) → first reply audio arrived. */
  clientVoiceToVoiceMs: Summary;
  server: ServerLoad;
  clientCpuPercent: number;
  wallMs: number;
}

export interface InterruptPass extends LatencyPass {
  bargeIns: number;
  /** Barge-ins the server confirmed as interruptions of audio the user had heard (records with a stop time). */
  interruptionsMeasured: number;
  /** Client clock: the barge-in's first voiced sample sent (energy reference) → the server's `clear` arrived. */
  clientStopMs: Summary;
  droppedAfterClearMs: number;
}

export interface CapacityStep {
  sessions: number;
  connected: number;
  turnsPlayed: number;
  records: number;
  timeouts: number;
  voiceToVoiceMs: Summary;
  pipelineOverheadMs: Summary;
  server: ServerLoad;
  rssPerSessionMiB: number | null;
  clientCpuPercent: number;
  clientEventLoopP99Ms: number;
  errors: Record<string, number>;
  /** voiceToVoiceMs p95 within 10 % of the one-session baseline, and (almost) every turn answered. */
  holds: boolean;
}

export interface CapacityResult {
  description: string;
  idleRssMiB: number | null;
  baselineP95Ms: number | null;
  limitP95Ms: number | null;
  steps: CapacityStep[];
  /** The most concurrent sessions that held; null when even the baseline did not. */
  sessionsHeld: number | null;
  stoppedBecause: string;
}

export interface SoakResult {
  sessions: number;
  durationMs: number;
  turnsPlayed: number;
  records: number;
  timeouts: number;
  /** Server memory after a full garbage collection, once a minute, with the sessions open. */
  curve: { minute: number; rssMiB: number; heapUsedMiB: number; sessions: number }[];
  rssAfter1MinMiB: number | null;
  rssAtEndMiB: number | null;
  heapAfter1MinMiB: number | null;
  heapAtEndMiB: number | null;
  /** Once every session has closed: what the server keeps for nobody. */
  afterCloseRssMiB: number;
  afterCloseHeapMiB: number;
  voiceToVoiceMs: Summary;
  errors: Record<string, number>;
}

export interface MemoryRow {
  stack: string;
  /** The warmed server with no session (after one turn: models, JIT and a first decoder loaded). */
  idleServerRssMiB: number;
  idleSessions: number;
  rssPerIdleSessionMiB: number;
  speakingSessions: number;
  speakingPeakRssMiB: number | null;
  /** Peak RSS while all speak at once, over the server before they connected, per session. */
  rssPerSpeakingSessionMiB: number | null;
  /** Once every session has closed (after a full GC): what the server keeps for nobody. */
  afterCloseRssMiB: number;
}

export interface MemoryResult {
  description: string;
  rows: MemoryRow[];
}

export interface E2eResults {
  machine: { cpus: number; model: string | undefined; node: string };
  date: string;
  options: Record<string, unknown>;
  passes: {
    local?: LatencyPass | { error: string };
    simulated?: LatencyPass | { error: string };
    interrupt?: InterruptPass | { error: string };
    capacity?: CapacityResult | { error: string };
    soak?: SoakResult | { error: string };
    memory?: MemoryResult | { error: string };
    repeated?: RepeatedPass | { error: string };
  };
  wallMs: number;
}

const MiB = 1024 * 1024;
const round1 = (v: number) => Math.round(v * 10) / 10;

export function serverLoad(run: ClientRun): ServerLoad {
  const { samples } = run;
  if (samples.length === 0)
    return { cpuPercent: null, peakRssMiB: null, eventLoopP99Ms: null, otherCpuPercent: null };
  const first = samples[0];
  const last = samples[samples.length - 1];
  const wall = last.atMs - first.atMs;
  const cpuPercent = wall > 0 ? round1(((last.stats.cpuMs - first.stats.cpuMs) / wall) * 100) : null;
  const clientPercent = (run.result.cpuMs / Math.max(1, run.result.wallMs)) * 100;
  return {
    cpuPercent,
    otherCpuPercent:
      run.machineCpuPercent === null || cpuPercent === null
        ? null
        : round1(Math.max(0, run.machineCpuPercent - cpuPercent - clientPercent)),
    peakRssMiB: round1(Math.max(...samples.map((s) => s.stats.rssBytes)) / MiB),
    // Each sample's p99 covers the interval since the previous one; the worst interval is the honest figure.
    eventLoopP99Ms: round1(Math.max(...samples.slice(1).map((s) => s.stats.eventLoopP99Ms), 0)),
  };
}

export function latencyPass(
  name: string,
  description: string,
  sessions: number,
  run: ClientRun,
): LatencyPass {
  const { result } = run;
  const metrics = Object.fromEntries(
    LATENCY_METRICS.map((metric) => [metric, summarize(result.records.map((r) => r[metric]))]),
  ) as Record<LatencyMetric, Summary>;
  return {
    name,
    description,
    sessions,
    turnsPlayed: result.turns.length,
    records: result.records.length,
    timeouts: result.turns.filter((t) => t.timedOut).length,
    failures: result.connectFailures,
    errors: result.errors,
    metrics,
    clientVoiceToVoiceMs: summarize(result.turns.map((t) => t.clientVoiceToVoiceMs)),
    server: serverLoad(run),
    clientCpuPercent: round1((result.cpuMs / Math.max(1, result.wallMs)) * 100),
    wallMs: Math.round(result.wallMs),
  };
}

export const mib = (bytes: number) => round1(bytes / MiB);
