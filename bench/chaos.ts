/**
 * npm run chaos — the chaos suite's full form: the real server (`repartee serve`, local STT/TTS, an LLM fake on
 * loopback) with a canary conversation talking through each misbehaviour in turn. Prints the table and writes
 * it to bench/results/chaos.md. The short form runs in `npm test` (test/chaos/).
 *   npm run chaos [-- --only graceful-close-mid-reply,idle-connections] [--turns 5] [--form full|short]
 *                 [--out bench/results/chaos.md] [--log-dir DIR (the server's log of each scenario)]
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { BENCH_BOUNDS, runScenario, type ScenarioResult, startChaos } from '../test/chaos/harness/run.ts';
import { ALL_SCENARIOS, scenarioKey } from '../test/chaos/harness/scenarios.ts';
import { chaosNotes, chaosTable } from './chaos/report.ts';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      turns: { type: 'string', default: '5' },
      form: { type: 'string', default: 'full' },
      out: { type: 'string' },
      'log-dir': { type: 'string' },
    },
  });
  const form = values.form === 'short' ? 'short' : 'full';
  const turns = Number(values.turns);
  if (!Number.isInteger(turns) || turns < 1) throw new Error(`--turns ${values.turns}: a whole number ≥ 1`);
  const keys = values.only?.split(',').map((k) => k.trim());
  const unknown = keys?.filter((k) => !ALL_SCENARIOS.some((s) => scenarioKey(s) === k)) ?? [];
  if (unknown.length)
    throw new Error(
      `unknown scenario ${unknown.join(', ')}; known: ${ALL_SCENARIOS.map(scenarioKey).join(', ')}`,
    );
  const scenarios = keys ? ALL_SCENARIOS.filter((s) => keys.includes(scenarioKey(s))) : ALL_SCENARIOS;
  const out = values.out ?? (keys || form !== 'full' ? undefined : 'bench/results/chaos.md');
  const logDir = values['log-dir'];
  if (logDir) await mkdir(logDir, { recursive: true });
  const log = (line: string) => console.log(`[chaos] ${line}`);
  const started = new Date();
  const env = await startChaos({ form, canaryTurns: turns, log });
  const results: ScenarioResult[] = [];
  let ended = '';
  try {
    for (const scenario of scenarios) {
      log(`${scenario.name}: ${scenario.what}`);
      const result = await runScenario(env, scenario, BENCH_BOUNDS);
      results.push(result);
      log(`${scenario.name}: ${result.ok ? 'pass' : 'FAIL'} (${Math.round(result.wallMs / 1000)} s)`);
      for (const c of result.checks.filter((c) => !c.ok)) log(`  ${c.name}: ${c.detail}`);
      if (logDir) await writeFile(`${logDir}/${scenarioKey(scenario)}.log`, result.serverLog);
      if (!result.serverAlive) break;
    }
  } finally {
    ended = await env.close();
  }
  const table = chaosTable(results, BENCH_BOUNDS);
  console.log(`\n${table}\n`);
  console.log(chaosNotes(results));
  if (out) {
    const markdown = [
      '# Chaos suite (npm run chaos)',
      '',
      `Run ${started.toISOString()}, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}.`,
      `Server: \`repartee serve --stt local --tts local --vad silero --llm openai-compatible:<loopback fake>\`;`,
      `canary: ${turns} LibriVox turns per scenario in real time over WebSocket with playback receipts, the same clips`,
      'as its baseline (measured in the same run, before the first scenario). Bounds: canary v2v p95 within',
      `+${BENCH_BOUNDS.v2vP95Growth * 100} % of the baseline, no missed reply, /health within ${BENCH_BOUNDS.healthMs} ms`,
      `(polled every 100 ms throughout), RSS back within ${BENCH_BOUNDS.rssGrowth * 100} % of its value before the`,
      `scenario, no session, client socket or UDP socket left ${BENCH_BOUNDS.settleMs / 1000} s after it.`,
      `Server at the end: ${ended}.`,
      '',
      table,
      '',
      '## What each scenario did and saw',
      '',
      chaosNotes(results),
      '',
    ].join('\n');
    await writeFile(out, markdown);
    log(`wrote ${out}`);
  }
  return results.length === scenarios.length && results.every((r) => r.ok) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    console.error(error.stack ?? error.message);
    process.exit(2);
  },
);
