/**
 * Context benchmark: prompt tokens and LLM time to first token per turn over a long conversation on a local GGUF,
 * without the context policy (the whole history every turn) and with it (defaults of src/context/policy.ts:
 * budget, background summaries on a sibling context of the same model, pruning).
 *
 *   npm run bench:context [-- --turns 100] [--model stories|synth|<path.gguf>] [--gap-ms 0]
 *
 * `stories` (default) is the real stories260K fixture: fast, but its 2,048-token training context caps the run
 * without the policy (node-llama-cpp shifts the context). `synth` is a GGUF with Qwen2.5-0.5B-Instruct's exact shape
 * and random weights that bench/local writes itself: realistic prefill and decode cost, summaries that are noise of
 * the right length (clipped to summaryMaxTokens), and a much longer run. Both use one thread and at most an
 * 8,192-token context. `--gap-ms` waits between turns as a user speaking would; 0 runs turns back to back, the worst
 * case for background summaries, which then compete with replies for the CPU and land late.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ChatHistory } from '../src/context/history.ts';
import { ContextManager, type SummaryEvent } from '../src/context/manager.ts';
import { DEFAULT_CONTEXT_POLICY } from '../src/context/policy.ts';
import { MonotonicClock } from '../src/metrics/clock.ts';
import type { ChatMessage, LlmChunk } from '../src/providers/llm/contract.ts';
import { LlamaLlm } from '../src/providers/llm/llama.ts';
import { unloadSharedModels } from '../src/providers/llm/llama-models.ts';
import { assistantTurn, SYSTEM_PROMPT, userTurn } from './context/conversation.ts';
import { ensureSynthGguf } from './local/gguf-synth.ts';

const STORIES = fileURLToPath(new URL('../test/fixtures/models/stories260K.gguf', import.meta.url));
const SYNTH = join(tmpdir(), 'repartee-bench', 'qwen2.5-0.5b-shape-q8_0.gguf');
const CONTEXT_SIZE = 8192;

interface TurnRow {
  turn: number;
  /** Our count of the prompt (model tokenizer + chat-format overheads). */
  contextTokens: number;
  /** Prompt tokens llama.cpp reports (kept from the KV cache + evaluated). */
  promptTokens: number;
  prefilledTokens: number;
  ttftMs: number;
  /** A summary was being written while this turn's request ran. */
  summarizing: boolean;
  /** The first turn whose prompt carries a new summary: its prefix was rewritten. */
  rewrite: boolean;
}

interface RunResult {
  policy: boolean;
  rows: TurnRow[];
  summaries: SummaryEvent[];
  errors: string[];
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

async function timedRequest(llm: LlamaLlm, messages: ChatMessage[]) {
  const started = performance.now();
  let first = 0;
  let usage: Extract<LlmChunk, { type: 'usage' }> | undefined;
  for await (const c of llm.chat({ messages, signal: new AbortController().signal, maxTokens: 1 })) {
    if (c.type === 'text' && c.delta) first ||= performance.now();
    else if (c.type === 'usage') usage = c;
  }
  const end = performance.now();
  return {
    ttftMs: (first || end) - started,
    promptTokens: usage?.promptTokens ?? 0,
    prefilledTokens: (usage?.promptTokens ?? 0) - (usage?.cachedTokens ?? 0),
  };
}

async function run(modelPath: string, turns: number, policy: boolean, gapMs: number): Promise<RunResult> {
  const llm = new LlamaLlm({ modelPath, threads: 1, temperature: 0, contextSize: CONTEXT_SIZE });
  const summaries: SummaryEvent[] = [];
  const errors: string[] = [];
  const context = new ContextManager({
    llm,
    clock: new MonotonicClock(),
    policy: policy ? {} : { summarize: false, maxTokens: 1e9, summarizeAtTokens: 1e9, maxMessages: 1e9 },
    onSummary: (e) => summaries.push(e),
    onError: (e) => errors.push(e.message),
  });
  await llm.prewarm();
  await context.prepare();
  const history = new ChatHistory(SYSTEM_PROMPT);
  const rows: TurnRow[] = [];
  let lastSummaryId: number | null = null;
  for (let turn = 1; turn <= turns; turn++) {
    history.append({ role: 'user', content: userTurn(turn) }, turn);
    const prompt = context.prompt(history.messages);
    const summarizing = context.isSummarizing;
    const timed = await timedRequest(llm, prompt.messages);
    rows.push({
      turn,
      contextTokens: prompt.stats.contextTokens,
      ...timed,
      summarizing: summarizing || context.isSummarizing,
      rewrite: prompt.stats.summaryId !== lastSummaryId,
    });
    lastSummaryId = prompt.stats.summaryId;
    history.append({ role: 'assistant', content: assistantTurn(turn) }, turn);
    if (policy) context.maybeSummarize(history.messages);
    if (gapMs > 0) await new Promise((resolve) => setTimeout(resolve, gapMs));
    if (turn % 10 === 0)
      process.stderr.write(`  ${policy ? 'policy' : 'no policy'}: turn ${turn}/${turns}\n`);
  }
  await context.close();
  await llm.close();
  return { policy, rows, summaries, errors };
}

const percentile = (xs: number[], p: number) => {
  if (xs.length === 0) return Number.NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};
const round = (x: number) => Math.round(x);

function stats(result: RunResult) {
  const rows = result.rows;
  const ttft = rows.map((r) => r.ttftMs);
  const steady = rows.filter((r) => !r.rewrite && !r.summarizing).map((r) => r.ttftMs);
  return {
    ttftP50Ms: round(percentile(ttft, 50)),
    ttftP95Ms: round(percentile(ttft, 95)),
    ttftMaxMs: round(Math.max(...ttft)),
    ttftLast10MeanMs: round(ttft.slice(-10).reduce((a, b) => a + b, 0) / Math.min(10, ttft.length)),
    steadyTtftP50Ms: round(percentile(steady, 50)),
    rewriteTurns: rows.filter((r) => r.rewrite).length,
    rewriteTtftP50Ms: round(
      percentile(
        rows.filter((r) => r.rewrite).map((r) => r.ttftMs),
        50,
      ),
    ),
    whileSummarizingTtftP50Ms: round(
      percentile(
        rows.filter((r) => r.summarizing && !r.rewrite).map((r) => r.ttftMs),
        50,
      ),
    ),
    promptTokensMax: Math.max(...rows.map((r) => r.promptTokens)),
    promptTokensLast: rows.at(-1)?.promptTokens ?? 0,
    promptTokensSum: rows.reduce((a, r) => a + r.promptTokens, 0),
    prefilledTokensSum: rows.reduce((a, r) => a + r.prefilledTokens, 0),
    countErrorMeanPct:
      Math.round(
        (rows.reduce((a, r) => a + Math.abs(r.contextTokens - r.promptTokens) / r.promptTokens, 0) /
          rows.length) *
          1000,
      ) / 10,
    summaries: result.summaries.length,
    summaryMsP50: round(
      percentile(
        result.summaries.map((s) => s.durationMs),
        50,
      ),
    ),
    errors: result.errors.length,
  };
}

function printTable(off: RunResult, on: RunResult): void {
  console.log('\nper turn: prompt tokens (llama.cpp), prefilled tokens, TTFT ms — without | with the policy');
  console.log(
    'turn   tokens prefill    ttft |  tokens prefill    ttft  (S: summary running, R: prompt rewritten)',
  );
  for (let i = 0; i < off.rows.length; i++) {
    const a = off.rows[i];
    const b = on.rows[i];
    const flags = `${b.summarizing ? 'S' : ' '}${b.rewrite ? 'R' : ' '}`;
    console.log(
      `${String(a.turn).padStart(4)}  ${String(a.promptTokens).padStart(7)} ${String(a.prefilledTokens).padStart(7)} ` +
        `${String(round(a.ttftMs)).padStart(7)} | ${String(b.promptTokens).padStart(7)} ` +
        `${String(b.prefilledTokens).padStart(7)} ${String(round(b.ttftMs)).padStart(7)}  ${flags}`,
    );
  }
}

async function main(): Promise<void> {
  const turns = Number(arg('turns', '100'));
  const gapMs = Number(arg('gap-ms', '0'));
  const model = arg('model', 'stories');
  if (!Number.isInteger(turns) || turns < 1) throw new Error('--turns must be a positive integer');
  if (!Number.isFinite(gapMs) || gapMs < 0) throw new Error('--gap-ms must be a non-negative number');
  const modelPath =
    model === 'synth'
      ? (await ensureSynthGguf(SYNTH, { storiesPath: STORIES })).path
      : model === 'stories'
        ? STORIES
        : model;
  console.log(`context benchmark: ${turns} turns on ${modelPath} (1 thread, context ${CONTEXT_SIZE})`);
  console.log(`policy defaults: ${JSON.stringify({ ...DEFAULT_CONTEXT_POLICY, summaryPrompt: undefined })}`);
  const started = performance.now();
  const off = await run(modelPath, turns, false, gapMs);
  const on = await run(modelPath, turns, true, gapMs);
  await unloadSharedModels();
  printTable(off, on);
  const summary = { withoutPolicy: stats(off), withPolicy: stats(on) };
  console.log('\nsummary');
  const keys = Object.keys(summary.withoutPolicy) as (keyof typeof summary.withoutPolicy)[];
  const width = Math.max(...keys.map((k) => k.length));
  console.log(`${''.padEnd(width)}  ${'without'.padStart(9)}  ${'with'.padStart(9)}`);
  for (const k of keys) {
    console.log(
      `${k.padEnd(width)}  ${String(summary.withoutPolicy[k]).padStart(9)}  ${String(summary.withPolicy[k]).padStart(9)}`,
    );
  }
  if (on.errors.length) console.log(`errors with the policy: ${on.errors.join('; ')}`);
  console.log(`\ntotal ${round((performance.now() - started) / 1000)} s`);
  const out = fileURLToPath(new URL('./results/context.json', import.meta.url));
  await mkdir(fileURLToPath(new URL('./results/', import.meta.url)), { recursive: true });
  await writeFile(
    out,
    `${JSON.stringify({ model: modelPath, turns, gapMs, ...summary, off, on }, null, 1)}\n`,
  );
  console.log(`written: ${out}`);
}

await main();
