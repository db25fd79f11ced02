import {
  DEFAULT_ENDPOINTING_POLICY,
  type EndpointingPolicyOptions,
  endpointingDelayMs,
} from '../../src/agent/endpointing-policy.ts';

/**
 * The scoring of eot-bench's framing, shared by the transcript and the audio level. A turn is a list of decision
 * points: each inner pause is a HOLD (committing there cuts the user off), the last is the END (what the user
 * waits for there is dead air). A policy maps the detector's probability to a delay; sweeping its parameters
 * traces the trade-off, and its Pareto front is what the tables read from.
 */

export interface DecisionPoint {
  probability: number;
  /**
   * Silence from the last voiced audio until the user is heard again (a HOLD only): commit before it and the turn
   * is cut off. At the transcript level this is the labelled pause.
   */
  gapMs?: number;
  /** After the last voiced audio, when the detector's verdict was available; no commit can come earlier. */
  readyMs: number;
  /**
   * After the last voiced audio, when the session asked (default `readyMs`). It schedules a commit at the max
   * delay first, so a verdict later than that changes nothing.
   */
  askedMs?: number;
  /**
   * Verdicts given earlier in the same pause that a later one replaced (a new final transcript makes the session
   * ask again and reschedule): each commits only if its delay runs out before it is replaced.
   */
  earlier?: { probability: number; readyMs: number; replacedAtMs: number }[];
  /** END only: real end − the last voiced audio as the VAD placed it, so the wait is counted from the real end. */
  waitOffsetMs?: number;
}

export interface ScoredTurn {
  id: string;
  category: string;
  holds: DecisionPoint[];
  end: DecisionPoint;
}

export type PolicyParameters = Pick<
  EndpointingPolicyOptions,
  'minDelayMs' | 'maxDelayMs' | 'shape' | 'confidentAbove'
>;

export interface OperatingPoint {
  policy: PolicyParameters;
  /** Share of turns committed inside a hold at least once (turns without a hold count and cannot be cut off). */
  cutoffRate: number;
  /** Mean silence after the real end before the commit, ms. */
  meanWaitMs: number;
}

export interface SweepGrid {
  minDelayMs: readonly number[];
  maxDelayMs: readonly number[];
  shape: readonly number[];
  confidentAbove: readonly number[];
}

/** Chosen before any result was seen and never tuned on heldout: wide enough that no front ends at its edge. */
export const DEFAULT_SWEEP_GRID: SweepGrid = {
  minDelayMs: [0, 100, 200, 250, 300, 400, 500, 600, 800, 1000, 1200, 1500],
  maxDelayMs: [300, 500, 700, 900, 1100, 1300, 1500, 1800, 2100, 2500, 3000],
  shape: [0.5, 1, 2, 3, 4, 6],
  confidentAbove: [0.6, 0.8, 0.9, 1],
};

export function gridPolicies(grid: SweepGrid = DEFAULT_SWEEP_GRID): PolicyParameters[] {
  const out: PolicyParameters[] = [];
  for (const minDelayMs of grid.minDelayMs)
    for (const maxDelayMs of grid.maxDelayMs)
      for (const shape of grid.shape)
        for (const confidentAbove of grid.confidentAbove)
          if (maxDelayMs >= minDelayMs) out.push({ minDelayMs, maxDelayMs, shape, confidentAbove });
  return out;
}

/** The policy alone (no per-user adaptation: the turns of a split are not one user's). */
export function delayFor(probability: number, policy: PolicyParameters): number {
  return endpointingDelayMs(probability, { ...DEFAULT_ENDPOINTING_POLICY, ...policy, adaptToUser: false });
}

function commitAfter(point: DecisionPoint, policy: PolicyParameters): number {
  for (const verdict of point.earlier ?? []) {
    const at = Math.max(verdict.readyMs, delayFor(verdict.probability, policy));
    if (at < verdict.replacedAtMs) return at;
  }
  const safetyNet = Math.max(point.askedMs ?? point.readyMs, policy.maxDelayMs);
  return Math.min(safetyNet, Math.max(point.readyMs, delayFor(point.probability, policy)));
}

export function evaluatePolicy(turns: readonly ScoredTurn[], policy: PolicyParameters): OperatingPoint {
  if (turns.length === 0) throw new Error('no turns to evaluate');
  let cut = 0;
  let wait = 0;
  for (const turn of turns) {
    if (turn.holds.some((h) => commitAfter(h, policy) < (h.gapMs ?? Number.POSITIVE_INFINITY))) cut++;
    wait += Math.max(0, commitAfter(turn.end, policy) - (turn.end.waitOffsetMs ?? 0));
  }
  return { policy, cutoffRate: cut / turns.length, meanWaitMs: wait / turns.length };
}

export function sweep(turns: readonly ScoredTurn[], policies = gridPolicies()): OperatingPoint[] {
  return policies.map((policy) => evaluatePolicy(turns, policy));
}

/** Points no other point beats on both axes, by rising wait (and so falling cut-offs). */
export function paretoFront(points: readonly OperatingPoint[]): OperatingPoint[] {
  const sorted = [...points].sort((a, b) => a.meanWaitMs - b.meanWaitMs || a.cutoffRate - b.cutoffRate);
  const front: OperatingPoint[] = [];
  for (const point of sorted) {
    const last = front.at(-1);
    if (!last || point.cutoffRate < last.cutoffRate) {
      if (last && last.meanWaitMs === point.meanWaitMs) front.pop();
      front.push(point);
    }
  }
  return front;
}

/** Cut-off rate at a mean wait, linear between the front's points; undefined below the shortest wait swept. */
export function cutoffAtWait(front: readonly OperatingPoint[], waitMs: number): number | undefined {
  if (front.length === 0 || waitMs < front[0].meanWaitMs) return undefined;
  for (let i = 1; i < front.length; i++) {
    const a = front[i - 1];
    const b = front[i];
    if (waitMs < b.meanWaitMs) {
      const t = (waitMs - a.meanWaitMs) / (b.meanWaitMs - a.meanWaitMs);
      return a.cutoffRate + t * (b.cutoffRate - a.cutoffRate);
    }
  }
  return front.at(-1)?.cutoffRate;
}

/** Mean wait at which the cut-off rate falls to `rate`, linear between the front's points; undefined if never. */
export function waitAtCutoff(front: readonly OperatingPoint[], rate: number): number | undefined {
  const i = front.findIndex((p) => p.cutoffRate <= rate);
  if (i < 0) return undefined;
  if (i === 0) return front[0].meanWaitMs;
  const a = front[i - 1];
  const b = front[i];
  const t = (a.cutoffRate - rate) / (a.cutoffRate - b.cutoffRate);
  return a.meanWaitMs + t * (b.meanWaitMs - a.meanWaitMs);
}

/** The cheapest point of the front within a cut-off budget: what to configure for that budget. */
export function pointWithin(front: readonly OperatingPoint[], rate: number): OperatingPoint | undefined {
  return front.find((p) => p.cutoffRate <= rate);
}

export interface TradeOff {
  cutoffAt300: number | undefined;
  cutoffAt600: number | undefined;
  waitAt5: number | undefined;
  waitAt10: number | undefined;
  /** The policy's own defaults, for what an unconfigured session does. */
  atDefaults: OperatingPoint;
  front: OperatingPoint[];
}

export function tradeOff(turns: readonly ScoredTurn[], policies = gridPolicies()): TradeOff {
  const front = paretoFront(sweep(turns, policies));
  return {
    cutoffAt300: cutoffAtWait(front, 300),
    cutoffAt600: cutoffAtWait(front, 600),
    waitAt5: waitAtCutoff(front, 0.05),
    waitAt10: waitAtCutoff(front, 0.1),
    atDefaults: evaluatePolicy(turns, DEFAULT_ENDPOINTING_POLICY),
    front,
  };
}
