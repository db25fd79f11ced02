// bench:memory — memory across conversations (docs/memory.md): how well the deterministic rules decide (the
// forget matcher and the first-person fact rule, on the labelled dev and held-out sets of bench/memory/), and
// what memory costs a turn: the BM25 prompt block over a user's 500 items, and loading them from SQLite.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserMemory } from '../src/context/memory.ts';
import { forgetCommand, statedFacts } from '../src/context/memory-rules.ts';
import { tiktokenCounter } from '../src/context/tokens.ts';
import { SqliteStore } from '../src/store/sqlite.ts';
import {
  FACT_DEV,
  FACT_HELD_OUT,
  type FactCase,
  FORGET_DEV,
  FORGET_HELD_OUT,
  type ForgetCase,
} from './memory/labelled.ts';

const ITEMS = 500;
const QUERIES = 200;

function forgetAccuracy(cases: ForgetCase[]) {
  const wrong = cases.filter((c) => (forgetCommand(c.text)?.scope ?? 'none') !== c.expected);
  const orders = cases.filter((c) => c.expected !== 'none');
  const fired = cases.filter((c) => c.expected === 'none' && forgetCommand(c.text));
  return {
    cases: cases.length,
    correct: cases.length - wrong.length,
    orders: orders.length,
    falseFires: fired.length,
    wrong,
  };
}

function factScores(cases: FactCase[]) {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  const wrong: FactCase[] = [];
  for (const c of cases) {
    const found = statedFacts(c.text).length > 0;
    if (found && c.fact) tp++;
    else if (found) fp++;
    else if (c.fact) fn++;
    if (found !== c.fact) wrong.push(c);
  }
  return { precision: tp / Math.max(1, tp + fp), recall: tp / Math.max(1, tp + fn), wrong };
}

const pct = (v: number) => `${(v * 100).toFixed(0)}%`;
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const TOPICS = [
  'budget',
  'flight',
  'daughter',
  'kitchen',
  'allergy',
  'car',
  'address',
  'doctor',
  'garden',
  'bank',
];
const fact = (i: number) =>
  `My ${TOPICS[i % TOPICS.length]} note ${i} is about item ${(i * 7919) % 1000} and the ${['red', 'blue', 'green'][i % 3]} one.`;

async function main() {
  console.log('# bench:memory\n');
  console.log('## The rules (labelled utterances, bench/memory/labelled.ts)\n');
  for (const [name, cases] of [
    ['dev', FORGET_DEV],
    ['held-out', FORGET_HELD_OUT],
  ] as const) {
    const r = forgetAccuracy(cases);
    console.log(
      `forget matcher, ${name}: ${r.correct}/${r.cases} scopes right (${pct(r.correct / r.cases)}); fired on ${r.falseFires} of ${r.cases - r.orders} non-orders`,
    );
    for (const w of r.wrong)
      console.log(
        `  wrong: "${w.text}" → ${forgetCommand(w.text)?.scope ?? 'none'} (expected ${w.expected})`,
      );
  }
  for (const [name, cases] of [
    ['dev', FACT_DEV],
    ['held-out', FACT_HELD_OUT],
  ] as const) {
    const r = factScores(cases);
    console.log(
      `fact rule, ${name}: precision ${pct(r.precision)}, recall ${pct(r.recall)} (${cases.length} sentences)`,
    );
    for (const w of r.wrong) console.log(`  wrong: "${w.text}" (labelled ${w.fact ? 'fact' : 'not a fact'})`);
  }

  console.log(`\n## Cost per turn (${ITEMS} items of one user)\n`);
  const records = Array.from({ length: ITEMS }, (_, i) => ({
    id: i + 1,
    kind: 'fact' as const,
    text: fact(i),
    sessionId: 'earlier',
    createdAt: 1_700_000_000_000 + i,
  }));
  const backend = {
    addMemory: async () => records[0],
    listMemory: async () => records,
    deleteMemory: async () => true,
    deleteUserMemory: async () => 0,
  };
  const memory = new UserMemory({ store: backend, userId: 'u', sessionId: 'now', maxTokens: 300 });
  await memory.load();
  const counter = await tiktokenCounter('cl100k_base');
  // Warm-up (JIT, the tokenizer's caches): not timed.
  for (let q = 0; q < 20; q++) memory.block(`my ${TOPICS[q % TOPICS.length]} item ${q}`, 300, counter);
  const times: number[] = [];
  let used = 0;
  for (let q = 0; q < QUERIES; q++) {
    const query = `What did I tell you about my ${TOPICS[q % TOPICS.length]} and item ${(q * 31) % 1000}?`;
    const started = performance.now();
    used += memory.block(query, 300, counter)?.used ?? 0;
    times.push(performance.now() - started);
  }
  console.log(
    `prompt block (BM25 + token count, budget 300): p50 ${percentile(times, 50).toFixed(3)} ms, p95 ${percentile(times, 95).toFixed(3)} ms over ${QUERIES} queries; ${(used / QUERIES).toFixed(1)} items per block`,
  );

  const dir = mkdtempSync(join(tmpdir(), 'repartee-bench-memory-'));
  const store = new SqliteStore({ path: join(dir, 'memory.db') });
  try {
    for (const r of records)
      await store.addMemory({
        userId: 'u',
        kind: r.kind,
        text: r.text,
        sessionId: 'x',
        createdAt: r.createdAt,
      });
    const loads: number[] = [];
    for (let i = 0; i < 20; i++) {
      const started = performance.now();
      const session = new UserMemory({ store, userId: 'u', sessionId: `s${i}`, maxTokens: 300 });
      await session.load();
      loads.push(performance.now() - started);
    }
    console.log(
      `session start, loading ${ITEMS} items from SQLite (worker) and indexing: p50 ${percentile(loads, 50).toFixed(1)} ms, p95 ${percentile(loads, 95).toFixed(1)} ms (20 loads)`,
    );
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
