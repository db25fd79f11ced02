/**
 * npm run bench — end-to-end latency and capacity, as a user feels them: a client process plays real speech
 * (LibriVox clips) in real time over the WebSocket protocol to a Repartee server process, plays the replies with
 * playback receipts, and collects the server's per-turn metrics. See bench/README.md.
 *   npm run bench -- --only phone [--turns 8] [--barge-ins 6] [--one-way-ms 0,40]   (bench/phone.ts)
 *   npm run bench [-- --only local,simulated,repeated,interrupt,capacity,memory] [--turns 5] [--sessions 4] [--barge-ins 6]
 *                 [--model stories|qwen-shape|<file.gguf>] [--max-tokens 32] [--max-sessions 200]
 *                 [--capacity-turns 2] [--soak 30m] [--soak-sessions 50]
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { capacityPass } from './e2e/capacity.ts';
import { memoryPass } from './e2e/memory.ts';
import { interruptPass, localPass, type PassOptions, simulatedPass, soakPass } from './e2e/passes.ts';
import {
  repeatedMarkdown,
  repeatedNotes,
  repeatedPass,
  repeatedTable,
  repeatedTarget,
} from './e2e/repeated.ts';
import {
  capacityTable,
  interruptTable,
  latencyTable,
  memoryTable,
  passNotes,
  renderMarkdown,
  soakSummary,
  soakTable,
  table,
  targets,
} from './e2e/report.ts';
import type { E2eResults, LatencyPass } from './e2e/results.ts';
import { ensureSynthGguf } from './local/gguf-synth.ts';

const PASSES = ['local', 'simulated', 'repeated', 'interrupt', 'capacity', 'memory', 'soak'] as const;
type PassName = (typeof PASSES)[number];
const DEFAULT_STEPS = [1, 10, 25, 50, 75, 100, 125, 150, 200];
const STORIES = fileURLToPath(new URL('../test/fixtures/models/stories260K.gguf', import.meta.url));
const QWEN_SHAPE = join(tmpdir(), 'repartee-bench', 'qwen2.5-0.5b-shape-q8_0.gguf');

const count = (min: number) => z.coerce.number().int().min(min);
const Duration = z
  .string()
  .regex(/^\d+(\.\d+)?(ms|s|m|h)$/, 'a duration like 90s, 30m or 1h')
  .transform((text) => {
    const [, value, unit] = /^([\d.]+)(ms|s|m|h)$/.exec(text) as RegExpExecArray;
    return Number(value) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit as 'ms' | 's' | 'm' | 'h'];
  });

const Flags = z.object({
  only: z
    .string()
    .default('local,simulated,repeated,interrupt,capacity,memory')
    .transform((s) => s.split(',').map((p) => p.trim()))
    .pipe(z.array(z.enum(PASSES)).min(1)),
  turns: count(1).default(5),
  sessions: count(1).default(4),
  'barge-ins': count(1).default(6),
  model: z.string().default('stories'),
  'max-tokens': count(1).default(32),
  'max-sessions': count(1).default(200),
  'capacity-turns': count(1).default(2),
  soak: Duration.optional(),
  'soak-sessions': count(1).default(50),
});

async function resolveModel(model: string): Promise<string> {
  if (model === 'stories') return STORIES;
  if (model === 'qwen-shape') {
    const { written } = await ensureSynthGguf(QWEN_SHAPE, { storiesPath: STORIES });
    if (written) console.log(`wrote a GGUF shaped like Qwen2.5-0.5B (random weights) to ${QWEN_SHAPE}`);
    return QWEN_SHAPE;
  }
  if (!existsSync(model)) throw new Error(`--model ${model}: no such file (or use stories / qwen-shape)`);
  return model;
}

async function main(): Promise<number> {
  // `--only scale` is bench/scale.ts (Redis, HAProxy and worker processes), with its own flags.
  const onlyAt = process.argv.indexOf('--only');
  // `--only phone` is bench/phone.ts (the Twilio path: a fake Twilio in real time), with its own flags.
  if (process.argv[onlyAt + 1] === 'phone' || process.argv.includes('--only=phone')) {
    const { runPhoneBench } = await import('./phone.ts');
    const rest = process.argv.slice(2);
    await runPhoneBench(
      rest.filter((arg, i) => arg !== '--only' && rest[i - 1] !== '--only' && arg !== '--only=phone'),
    );
    return 0;
  }
  if (process.argv[onlyAt + 1] === 'scale' || process.argv.includes('--only=scale')) {
    const { runScaleBench } = await import('./scale.ts');
    const rest = process.argv.slice(2);
    return runScaleBench(
      rest.filter((arg, i) => arg !== '--only' && rest[i - 1] !== '--only' && arg !== '--only=scale'),
    );
  }
  const { values } = parseArgs({
    options: Object.fromEntries(Object.keys(Flags.shape).map((k) => [k, { type: 'string' as const }])),
  });
  const parsed = Flags.safeParse(values);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) console.error(`--${issue.path.join('.')}: ${issue.message}`);
    return 2;
  }
  const flags = parsed.data;
  const only = new Set<PassName>(flags.only);
  if (flags.soak !== undefined) only.add('soak');
  const steps = DEFAULT_STEPS.filter((n) => n <= flags['max-sessions']);
  if (steps.at(-1) !== flags['max-sessions']) steps.push(flags['max-sessions']);
  const options: PassOptions = {
    turns: flags.turns,
    sessions: flags.sessions,
    bargeIns: flags['barge-ins'],
    localLlm: only.has('local') || only.has('memory') ? `llama:${await resolveModel(flags.model)}` : '',
    llmMaxTokens: flags['max-tokens'],
    capacitySteps: steps,
    capacityTurns: flags['capacity-turns'],
    baselineTurns: 8,
    soakMs: flags.soak ?? 30 * 60_000,
    soakSessions: flags['soak-sessions'],
    log: (line) => console.log(line),
  };
  const started = performance.now();
  const results: E2eResults = {
    machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
    date: new Date().toISOString(),
    options: { ...flags, only: [...only], model: flags.model },
    passes: {},
    wallMs: 0,
  };
  const runners = {
    local: () => localPass(options),
    simulated: () => simulatedPass(options),
    repeated: () => repeatedPass(options),
    interrupt: () => interruptPass(options),
    capacity: () => capacityPass(options),
    soak: () => soakPass(options),
    memory: () => memoryPass(options),
  } as const;
  for (const name of PASSES) {
    if (!only.has(name)) continue;
    const t0 = performance.now();
    try {
      // biome-ignore lint/suspicious/noExplicitAny: each runner's result goes to its own slot
      (results.passes as Record<string, any>)[name] = await runners[name]();
      console.log(`${name} done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    } catch (error) {
      console.error(`${name} failed: ${(error as Error).message}`);
      results.passes[name] = { error: (error as Error).message.split('\n')[0] };
    }
  }
  results.wallMs = Math.round(performance.now() - started);
  print(results);
  await mkdir('bench/results', { recursive: true });
  await writeFile('bench/results/e2e.json', `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(
    'bench/results/e2e.md',
    renderMarkdown(results) + repeatedMarkdown(results.passes.repeated),
  );
  console.log('\nwrote bench/results/e2e.json and bench/results/e2e.md');
  return 0;
}

function print(results: E2eResults): void {
  const { local, simulated, interrupt, capacity, soak, memory } = results.passes;
  const ok = <T extends object>(p: T | { error: string } | undefined): p is T => !!p && !('error' in p);
  const latency = [local, simulated].filter(ok) as LatencyPass[];
  if (latency.length) {
    console.log('\nLatency per turn (ms; server turn records, receipts from the client)');
    console.log(latencyTable(latency));
    for (const p of latency) console.log(passNotes(p));
  }
  const { repeated } = results.passes;
  if (ok(repeated)) {
    console.log('\nRepeated questions: TTS audio cache + response cache (ms; server turn records)');
    console.log(repeatedTable(repeated));
    console.log(repeatedNotes(repeated));
  }
  if (ok(interrupt)) {
    console.log('\nInterruptions (scripted barge-ins)');
    console.log(interruptTable(interrupt));
    console.log(passNotes(interrupt));
  }
  if (ok(capacity)) {
    console.log(
      `\nCapacity (limit: voiceToVoiceMs p95 <= ${capacity.limitP95Ms ?? '—'} ms, 1.1 × one session's ` +
        `${capacity.baselineP95Ms ?? '—'} ms; idle server RSS ${capacity.idleRssMiB ?? '—'} MiB)`,
    );
    console.log(capacityTable(capacity));
    console.log(
      `held ${capacity.sessionsHeld ?? 0} concurrent sessions; stopped: ${capacity.stoppedBecause}`,
    );
  }
  if (ok(memory)) {
    console.log(`\nMemory per session (server RSS; ${memory.description})`);
    console.log(memoryTable(memory));
  }
  if (ok(soak)) {
    console.log('\nSoak: server memory after a full GC, per minute');
    console.log(soakTable(soak));
    console.log(soakSummary(soak));
  }
  const t = [...targets(results), ...(ok(repeated) ? [repeatedTarget(repeated)] : [])];
  if (t.length) {
    console.log('\nTargets (reported, not asserted)');
    console.log(
      table(
        ['target', 'measured', 'met'],
        t.map((x) => [x.target, x.measured, x.met === null ? '—' : x.met ? 'yes' : 'NO']),
      ),
    );
  }
}

process.exit(await main());
