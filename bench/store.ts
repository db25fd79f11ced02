/**
 * npm run bench:store — what the conversation store costs the audio path. The bench's simulated cloud-like
 * stack (bench/e2e: a server process, a client process playing LibriVox clips in real time over WebSocket with
 * playback receipts) runs with the store off, on (SQLite in a worker thread), and on with both sides recorded
 * (Opus encoding in that worker), in ABC/CBA order over the rounds so a drifting machine load falls on all
 * three alike. Reports voice-to-voice (server turn records) and the server's event-loop lag, per mode.
 *   npm run bench:store [-- --sessions 4] [--turns 6] [--rounds 2] [--postgres]
 * --postgres: the PostgreSQL store instead (Debian's PostgreSQL 15 started by the bench in a temp dir on loopback).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { type Summary, summarize } from '../src/metrics/stats.ts';
import { startLocalPostgres } from '../src/store/testing/postgres-server.ts';
import { run, scenario, withServer } from './e2e/passes.ts';
import { cloudProfile } from './e2e/profiles.ts';
import { latencyPass } from './e2e/results.ts';

const MODES = ['off', 'on', 'record'] as const;
type Mode = (typeof MODES)[number];

const { values } = parseArgs({
  options: {
    sessions: { type: 'string' },
    turns: { type: 'string' },
    rounds: { type: 'string' },
    postgres: { type: 'boolean' },
  },
});
const sessions = Number(values.sessions ?? 4);
const turns = Number(values.turns ?? 6);
const rounds = Number(values.rounds ?? 2);
const started = values.postgres ? await startLocalPostgres() : undefined;
if (started && 'unavailable' in started) throw new Error(started.unavailable);
const postgres = started && 'server' in started ? started.server : undefined;
let databases = 0;

interface Run {
  mode: Mode;
  round: number;
  v2v: number[];
  loopP99: number | null;
  loopMax: number | null;
  cpuPercent: number | null;
  otherCpuPercent: number | null;
  timeouts: number;
}

async function once(mode: Mode, round: number): Promise<Run> {
  process.env.REPARTEE_BENCH_STORE = mode;
  if (postgres) process.env.REPARTEE_BENCH_STORE_URL = await postgres.createDatabase(`bench_${++databases}`);
  return withServer({ stack: 'simulated', profile: cloudProfile() }, async (server) => {
    const clientRun = await run(scenario(server, sessions, { turns }, 1500), server);
    const pass = latencyPass(`store ${mode}`, server.description, sessions, clientRun);
    const samples = clientRun.samples.slice(1);
    return {
      mode,
      round,
      v2v: clientRun.result.records
        .map((r) => r.voiceToVoiceMs)
        .filter((v): v is number => typeof v === 'number'),
      loopP99: pass.server.eventLoopP99Ms,
      loopMax: samples.length ? Math.max(...samples.map((s) => s.stats.eventLoopMaxMs)) : null,
      cpuPercent: pass.server.cpuPercent,
      otherCpuPercent: pass.server.otherCpuPercent,
      timeouts: pass.timeouts,
    };
  });
}

const runs: Run[] = [];
for (let round = 0; round < rounds; round++) {
  const order = round % 2 === 0 ? MODES : [...MODES].reverse();
  for (const mode of order) {
    const result = await once(mode, round);
    console.log(
      `round ${round + 1} store ${mode}: ${result.v2v.length} turns, v2v p50 ${summarize(result.v2v).p50} ms, ` +
        `event loop p99 ${result.loopP99} ms (max ${result.loopMax}), other CPU ${result.otherCpuPercent} %`,
    );
    runs.push(result);
  }
}
delete process.env.REPARTEE_BENCH_STORE;
delete process.env.REPARTEE_BENCH_STORE_URL;
postgres?.destroy();

const f = (v: number | null | undefined) =>
  v === null || v === undefined ? '—' : String(Math.round(v * 10) / 10);
const rows = MODES.map((mode) => {
  const mine = runs.filter((r) => r.mode === mode);
  const v2v: Summary = summarize(mine.flatMap((r) => r.v2v));
  const worst = (pick: (r: Run) => number | null) => Math.max(...mine.map((r) => pick(r) ?? 0));
  return [
    mode,
    String(v2v.count),
    f(v2v.p50),
    f(v2v.p95),
    f(worst((r) => r.loopP99)),
    f(worst((r) => r.loopMax)),
    f(summarize(mine.map((r) => r.cpuPercent)).mean),
    f(summarize(mine.map((r) => r.otherCpuPercent)).mean),
    String(mine.reduce((n, r) => n + r.timeouts, 0)),
  ];
});
const header = [
  'store',
  'turns',
  'v2v p50',
  'v2v p95',
  'loop p99 (worst run)',
  'loop max',
  'server CPU %',
  'other CPU %',
  'timeouts',
];
const table = [header, header.map(() => '---'), ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
const text =
  `# bench:store\n\n${sessions} sessions × ${turns} turns per run, ${rounds} rounds (ABC, CBA…), simulated cloud-like ` +
  `providers; ${new Date().toISOString()}.\n\n${table}\n\n` +
  (postgres
    ? '`on`: PostgreSQL store (batches on its own sockets, a local server); `record`: plus both sides recorded (Opus in a worker). '
    : '`on`: SQLite store in its worker thread; `record`: plus both sides recorded (Opus in the worker). ') +
  'Event-loop figures are the server process\'s (monitorEventLoopDelay, worst sampling interval); "other CPU" is the ' +
  'rest of the machine meanwhile.\n';
console.log(`\n${text}`);
await mkdir('bench/results', { recursive: true });
const out = postgres ? 'bench/results/store-postgres.md' : 'bench/results/store.md';
await writeFile(out, postgres ? text.replace('# bench:store', '# bench:store --postgres') : text);
console.log(`wrote ${out}`);
