/** Renders the bench's results as Markdown tables: printed as they are, and written to bench/results/e2e.md. */
import type { Summary } from '../../src/metrics/stats.ts';
import { LATENCY_METRICS } from './protocol.ts';
import type {
  CapacityResult,
  E2eResults,
  InterruptPass,
  LatencyPass,
  MemoryResult,
  SoakResult,
} from './results.ts';

/** A Markdown table with padded columns, readable in a terminal too. */
export function table(headers: string[], rows: (string | number | null)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (c === null ? '—' : String(c))))];
  const widths = headers.map((_, i) => Math.max(3, ...cells.map((r) => r[i]?.length ?? 0)));
  const line = (r: string[]) =>
    `| ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  const rule = `| ${widths.map((w, i) => (i === 0 ? '-'.repeat(w) : `${'-'.repeat(w - 1)}:`)).join(' | ')} |`;
  return [line(cells[0]), rule, ...cells.slice(1).map(line)].join('\n');
}

const f = (v: number | null | undefined, digits = 0) =>
  v === null || v === undefined ? null : v.toFixed(digits);
const isPass = <T extends object>(p: T | { error: string } | undefined): p is T => !!p && !('error' in p);

export function latencyTable(passes: LatencyPass[]): string {
  const headers = ['metric (ms)'];
  for (const p of passes) headers.push(`${p.name} p50`, `${p.name} p95`, `${p.name} p99`, `${p.name} n`);
  const row = (label: string, pick: (p: LatencyPass) => Summary, digits = 0) => [
    label,
    ...passes.flatMap((p) => {
      const s = pick(p);
      return [f(s.p50, digits), f(s.p95, digits), f(s.p99, digits), s.count];
    }),
  ];
  return table(headers, [
    ...LATENCY_METRICS.map((m) =>
      row(
        // voiceToVoiceMs ends at the first audible sample heard at the client (ear level), not the first frame.
        m === 'voiceToVoiceMs' ? 'voiceToVoiceMs (ear level)' : m,
        (p) => p.metrics[m],
        m === 'pipelineOverheadMs' ? 2 : 0,
      ),
    ),
    row('client-side voiceToVoiceMs', (p) => p.clientVoiceToVoiceMs),
  ]);
}

export function passNotes(p: LatencyPass): string {
  const errors = Object.entries(p.errors);
  return [
    `- **${p.name}**: ${p.description}. ${p.sessions} session(s), ${p.turnsPlayed} turns played, ${p.records} turn ` +
      `records, ${p.timeouts} turns unanswered within 20 s; server CPU ${p.server.cpuPercent ?? '—'} % of one core, ` +
      `peak RSS ${p.server.peakRssMiB ?? '—'} MiB, event-loop lateness p99 ${p.server.eventLoopP99Ms ?? '—'} ms; ` +
      `client CPU ${p.clientCpuPercent} %; other processes on the machine ${p.server.otherCpuPercent ?? '—'} %.`,
    ...p.failures.map((e) => `  - connection failed: ${e}`),
    ...errors.map(([message, n]) => `  - ${n} × ${message}`),
  ].join('\n');
}

export function interruptTable(p: InterruptPass): string {
  return table(
    ['barge-ins', 'measured', 'interruptionStopMs p50', 'p95', 'p99', 'client-side stop p50', 'p95'],
    [
      [
        p.bargeIns,
        p.interruptionsMeasured,
        f(p.metrics.interruptionStopMs.p50),
        f(p.metrics.interruptionStopMs.p95),
        f(p.metrics.interruptionStopMs.p99),
        f(p.clientStopMs.p50),
        f(p.clientStopMs.p95),
      ],
    ],
  );
}

export function capacityTable(c: CapacityResult): string {
  return table(
    [
      'sessions',
      'turns',
      'records',
      'unanswered',
      'v2v p50',
      'v2v p95',
      'overhead p95',
      'server CPU %',
      'RSS MiB',
      'MiB/session',
      'loop p99 ms',
      'client CPU %',
      'other CPU %',
      'holds',
    ],
    c.steps.map((s) => [
      s.sessions,
      s.turnsPlayed,
      s.records,
      s.timeouts + (s.sessions - s.connected),
      f(s.voiceToVoiceMs.p50),
      f(s.voiceToVoiceMs.p95),
      f(s.pipelineOverheadMs.p95, 2),
      f(s.server.cpuPercent),
      f(s.server.peakRssMiB),
      f(s.rssPerSessionMiB, 2),
      f(s.server.eventLoopP99Ms, 1),
      f(s.clientCpuPercent),
      f(s.server.otherCpuPercent),
      s.holds ? 'yes' : 'no',
    ]),
  );
}

export function soakTable(s: SoakResult): string {
  return table(
    ['minute', 'open sessions', 'server RSS MiB', 'live heap MiB'],
    s.curve.map((p) => [p.minute, p.sessions, p.rssMiB, p.heapUsedMiB]),
  );
}

export function soakSummary(s: SoakResult): string {
  return (
    `${s.sessions} sessions for ${(s.durationMs / 60_000).toFixed(0)} min, ${s.turnsPlayed} turns ` +
    `(${s.timeouts} unanswered): RSS ${s.rssAfter1MinMiB ?? '—'} MiB after 1 min → ${s.rssAtEndMiB ?? '—'} MiB at ` +
    `the end; live heap ${s.heapAfter1MinMiB ?? '—'} → ${s.heapAtEndMiB ?? '—'} MiB; after every session closed ` +
    `RSS ${s.afterCloseRssMiB} MiB, heap ${s.afterCloseHeapMiB} MiB; voiceToVoiceMs p95 ` +
    `${f(s.voiceToVoiceMs.p95) ?? '—'} ms.`
  );
}

interface Target {
  target: string;
  measured: string;
  met: boolean | null;
}

export function targets(results: E2eResults): Target[] {
  const { local, simulated, interrupt, capacity } = results.passes;
  const out: Target[] = [];
  const check = (target: string, value: number | null | undefined, limit: number, atLeast = false) => {
    out.push({
      target,
      measured:
        value === null || value === undefined ? 'not measured' : String(Math.round(value * 100) / 100),
      met: value === null || value === undefined ? null : atLeast ? value >= limit : value <= limit,
    });
  };
  if (isPass(local))
    check('voiceToVoiceMs p50 <= 500 ms (local stack)', local.metrics.voiceToVoiceMs.p50, 500);
  const overheads = [local, simulated].filter(isPass).map((p) => p.metrics.pipelineOverheadMs.p95);
  if (overheads.length) {
    const worst = overheads.every((v) => v === null) ? null : Math.max(...overheads.map((v) => v ?? 0));
    check('pipelineOverheadMs p95 <= 10 ms (worst pass)', worst, 10);
  }
  if (isPass(interrupt))
    check('interruptionStopMs p95 <= 150 ms', interrupt.metrics.interruptionStopMs.p95, 150);
  if (isPass(capacity))
    check('>= 100 concurrent sessions (simulated providers)', capacity.sessionsHeld, 100, true);
  return out;
}

export function renderMarkdown(results: E2eResults): string {
  const { local, simulated, interrupt, capacity, soak, memory } = results.passes;
  const parts: string[] = [
    '# End-to-end bench (`npm run bench`)',
    '',
    `${results.date} · ${results.machine.cpus} × ${results.machine.model ?? 'CPU'} · Node ${results.machine.node} · ` +
      `${(results.wallMs / 60_000).toFixed(1)} min · options ${JSON.stringify(results.options)}`,
  ];
  const latency = [local, simulated].filter(isPass);
  if (latency.length) {
    parts.push('', '## Latency per turn', '', latencyTable(latency), '', ...latency.map(passNotes));
  }
  if (isPass(interrupt))
    parts.push('', '## Interruptions', '', interruptTable(interrupt), '', passNotes(interrupt));
  if (isPass(capacity)) {
    parts.push(
      '',
      '## Capacity',
      '',
      `${capacity.description}. One-session voiceToVoiceMs p95 ${capacity.baselineP95Ms ?? '—'} ms, limit ` +
        `${capacity.limitP95Ms ?? '—'} ms; idle server RSS ${capacity.idleRssMiB ?? '—'} MiB. Held: ` +
        `**${capacity.sessionsHeld ?? 0} sessions**; stopped: ${capacity.stoppedBecause}.`,
      '',
      capacityTable(capacity),
    );
  }
  if (isPass(soak)) {
    parts.push('', '## Soak', '', soakSummary(soak), '', soakTable(soak));
  }
  if (isPass(memory)) {
    parts.push(
      '',
      '## Memory per session',
      '',
      `Server RSS; ${memory.description}.`,
      '',
      memoryTable(memory),
    );
  }
  for (const [name, pass] of Object.entries(results.passes)) {
    if (pass && 'error' in pass) parts.push('', `**${name} failed**: ${pass.error}`);
  }
  const t = targets(results);
  if (t.length) {
    parts.push(
      '',
      '## Targets (reported, not asserted)',
      '',
      table(
        ['target', 'measured', 'met'],
        t.map((x) => [x.target, x.measured, x.met === null ? '—' : x.met ? 'yes' : 'NO']),
      ),
    );
  }
  return `${parts.join('\n')}\n`;
}

export function memoryTable(m: MemoryResult): string {
  return table(
    [
      'stack',
      'idle server (MiB)',
      'idle sessions',
      'per idle session (MiB)',
      'speaking sessions',
      'peak speaking (MiB)',
      'per speaking session (MiB)',
      'after all closed (MiB)',
    ],
    m.rows.map((r) => [
      r.stack,
      f(r.idleServerRssMiB),
      r.idleSessions,
      f(r.rssPerIdleSessionMiB, 2),
      r.speakingSessions,
      f(r.speakingPeakRssMiB),
      f(r.rssPerSpeakingSessionMiB, 1),
      f(r.afterCloseRssMiB),
    ]),
  );
}
