/** The chaos table: one row per scenario, every figure against its bound, as the terminal and chaos.md show it. */
import type { ChaosBounds, ScenarioResult } from '../../test/chaos/harness/run.ts';

const ms = (v: number | null) => (v === null || Number.isNaN(v) ? '—' : `${Math.round(v)}`);
const mib = (bytes: number) => (Number.isNaN(bytes) ? '—' : `${Math.round(bytes / 2 ** 20)}`);
const mark = (ok: boolean) => (ok ? 'ok' : '**FAIL**');
const check = (r: ScenarioResult, name: string) => r.checks.find((c) => c.name === name)?.ok ?? false;

export function chaosTable(results: readonly ScenarioResult[], bounds: ChaosBounds): string {
  const header = [
    'scenario',
    'canary v2v p50/p95 ms',
    'baseline p50/p95 ms',
    `p95 ≤ +${Math.round(bounds.v2vP95Growth * 100)} %`,
    'missed replies',
    `max /health ms (≤ ${bounds.healthMs})`,
    `RSS before → after MiB (≤ +${Math.round(bounds.rssGrowth * 100)} %)`,
    'peak RSS MiB',
    'leaked sessions / client sockets / UDP',
    'result',
  ];
  const rows = results.map((r) => {
    const leakedSockets = Math.max(0, r.socketsAfter.clientTcp - r.socketsBefore.clientTcp);
    const leakedUdp = Math.max(0, r.socketsAfter.udp - r.socketsBefore.udp);
    return [
      r.scenario,
      `${ms(r.canary.p50Ms)} / ${ms(r.canary.p95Ms)}`,
      `${ms(r.baseline.p50Ms)} / ${ms(r.baseline.p95Ms)}`,
      mark(check(r, 'canary v2v p95')),
      `${r.canary.missed} of ${r.canary.turns} ${mark(check(r, 'canary replies'))}`,
      `${ms(r.watch.maxHealthMs)}${r.watch.failures ? ` (${r.watch.failures} failed)` : ''} ${mark(check(r, '/health'))}`,
      `${mib(r.rssBeforeBytes)} → ${mib(r.rssAfterBytes)} ${mark(check(r, 'RSS back'))}`,
      mib(r.watch.peakRssBytes),
      `${r.sessionsAfter} / ${leakedSockets} / ${leakedUdp} ${mark(check(r, 'sessions left') && check(r, 'sockets left'))}`,
      r.ok ? 'pass' : '**FAIL**',
    ];
  });
  return [header, header.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

/** Per scenario: what the misbehaving clients did and saw, and the detail of every failed check. */
export function chaosNotes(results: readonly ScenarioResult[]): string {
  return results
    .map((r) => {
      const observed = Object.entries(r.observed)
        .map(([k, v]) => `${k}: ${v}`)
        .join('; ');
      const failed = r.checks.filter((c) => !c.ok).map((c) => `  - FAILED ${c.name}: ${c.detail}`);
      const detail = r.checks
        .filter((c) => c.ok && (c.name === 'sockets left' || c.name === '/health'))
        .map((c) => `  - ${c.name}: ${c.detail}`);
      return [
        `- **${r.scenario}** (${r.what}; ${Math.round(r.wallMs / 1000)} s): ${observed || 'no observations'}`,
        ...failed,
        ...detail,
      ].join('\n');
    })
    .join('\n');
}
