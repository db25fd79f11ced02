import { cpus, totalmem } from 'node:os';
import type { OperatingPoint, PolicyParameters, TradeOff } from './sweep.ts';
import { type DetectorCost, percentile } from './transcript-level.ts';

/** Markdown for bench/results/turns.md; the console gets the same text. */

export interface DetectorRow {
  detector: string;
  tradeOff: TradeOff;
  cost: DetectorCost;
  /** Set when the detector could not run at all (its model missing): the row says why instead of figures. */
  error?: string;
}

export interface SplitTable {
  title: string;
  /** What was scored: counts of turns and holds, and anything odd (turns with no verdict at the end). */
  summary: string;
  rows: DetectorRow[];
}

export interface ValidationRow {
  detector: string;
  policy: PolicyParameters;
  /** Per split: measured through the real session, and what the sweep predicted for the same policy. */
  splits: {
    split: string;
    measured: OperatingPoint;
    predicted: OperatingPoint;
    noCommit: number;
    turns: number;
  }[];
}

export const pct = (v: number | undefined) => (v === undefined ? 'n/a' : `${(v * 100).toFixed(1)} %`);
export const ms = (v: number | undefined) => (v === undefined ? 'n/a' : `${Math.round(v)} ms`);
export const policyText = (p: PolicyParameters) =>
  `${p.minDelayMs}–${p.maxDelayMs} ms, shape ${p.shape}, sure above ${p.confidentAbove}`;

function costText(cost: DetectorCost): string {
  if (cost.calls === 0) return 'n/a';
  const cpu = cost.cpuUsTotal / cost.calls;
  const wall = `${percentile(cost.wallUs, 0.5).toFixed(1)} / ${percentile(cost.wallUs, 0.95).toFixed(1)}`;
  const failed = cost.failures ? `, ${cost.failures} failed` : '';
  return `${wall} (CPU ${cpu.toFixed(1)})${failed}`;
}

export function splitTable(table: SplitTable): string {
  const lines = [
    `#### ${table.title}`,
    '',
    table.summary,
    '',
    '| detector | cut-offs at 300 ms wait | cut-offs at 600 ms wait | wait at 5 % cut-offs | wait at 10 % cut-offs | policy defaults: cut-offs / wait | µs per call p50 / p95 (CPU mean) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const row of table.rows) {
    if (row.error) {
      lines.push(`| ${row.detector} | ${row.error} | | | | | |`);
      continue;
    }
    const t = row.tradeOff;
    // Below the shortest wait any policy reaches (the VAD's own silence, the transcript), there is no figure.
    const floor = `n/a (no wait under ${Math.round(t.front[0]?.meanWaitMs ?? 0)} ms)`;
    const at = (wait: number, v: number | undefined) =>
      v === undefined && (t.front[0]?.meanWaitMs ?? 0) > wait ? floor : pct(v);
    lines.push(
      `| ${row.detector} | ${at(300, t.cutoffAt300)} | ${at(600, t.cutoffAt600)} | ${ms(t.waitAt5)} | ${ms(t.waitAt10)} | ${pct(t.atDefaults.cutoffRate)} / ${ms(t.atDefaults.meanWaitMs)} | ${costText(row.cost)} |`,
    );
  }
  return lines.join('\n');
}

export function validationTable(rows: readonly ValidationRow[]): string {
  const lines = [
    '| detector | policy (chosen on dev audio, ≤ 5 % cut-offs) | split | cut-offs (session) | mean wait (session) | sweep predicted | no commit |',
    '| --- | --- | --- | ---: | ---: | ---: | ---: |',
  ];
  for (const row of rows) {
    for (const s of row.splits) {
      lines.push(
        `| ${row.detector} | ${policyText(row.policy)} | ${s.split} | ${pct(s.measured.cutoffRate)} | ${ms(s.measured.meanWaitMs)} | ${pct(s.predicted.cutoffRate)} / ${ms(s.predicted.meanWaitMs)} | ${s.noCommit} of ${s.turns} |`,
      );
    }
  }
  return lines.join('\n');
}

export function machineText(): string {
  const cpu = cpus();
  return `${cpu[0]?.model ?? 'unknown CPU'} × ${cpu.length}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, ${process.platform}`;
}

/** The headline on the audio set: wait at <= 5 % cut-offs (target <= 600 ms), cut-offs at 300 ms (<= 15 %). */
export function headlineTable(
  rows: readonly { detector: string; split: string; tradeOff: TradeOff }[],
): string {
  const lines = [
    '| detector | audio split | mean wait at ≤ 5 % cut-offs (target ≤ 600 ms) | cut-offs at 300 ms wait (target ≤ 15 %) | cut-offs at 600 ms wait |',
    '| --- | --- | ---: | ---: | ---: |',
  ];
  for (const { detector, split, tradeOff: t } of rows) {
    const shortest = Math.round(t.front[0]?.meanWaitMs ?? 0);
    const at300 =
      t.cutoffAt300 === undefined && shortest > 300
        ? `not reachable (shortest wait ${shortest} ms)`
        : pct(t.cutoffAt300);
    lines.push(`| ${detector} | ${split} | ${ms(t.waitAt5)} | ${at300} | ${pct(t.cutoffAt600)} |`);
  }
  return lines.join('\n');
}
