/**
 * Context benchmark: prompt tokens and LLM time to first token per turn over a long conversation on a local GGUF,
 * without the context policy (the whole history every turn) and with it (defaults of src/context/policy.ts:
 * budget, background summaries on a sibling context of the same model, pruning).
 *
 *   npm run bench:context [-- --turns 100] [--model stories|synth|<path.gguf>] [--gap-ms 0] [--retrieval-only]
 *
 * `stories` (default) is the real stories260K fixture: fast, but its 2,048-token training context caps the run
 * without the policy (node-llama-cpp shifts the context). `synth` is a GGUF with Qwen2.5-0.5B-Instruct's exact shape
 * and random weights that bench/local writes itself: realistic prefill and decode cost, summaries that are noise of
 * the right length (clipped to summaryMaxTokens), and a much longer run. Both use one thread and at most an
 * 8,192-token context. `--gap-ms` waits between turns as a user speaking would; 0 runs turns back to back, the worst
 * case for background summaries, which then compete with replies for the CPU and land late.
 *
 * A prompt longer than the model's context does not fail: node-llama-cpp silently drops most of it (llama.cpp then
 * reports a fraction of the prompt tokens we counted) and answers fast from what is left. Such turns are flagged
 * "context overflow" by comparing llama.cpp's prompt token count with ours, counted, and left out of the TTFT
 * figures: their TTFT measures a prompt the model never saw.
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
import {
  comparable,
  isContextOverflow,
  overflowNote,
  printTable,
  type RunResult,
  round,
  stats,
  type TurnRow,
} from './context/report.ts';
import { retrievalBench } from './context/retrieval.ts';
import { ensureSynthGguf } from './local/gguf-synth.ts';

const STORIES = fileURLToPath(new URL('../test/fixtures/models/stories260K.gguf', import.meta.url));
const SYNTH = join(tmpdir(), 'repartee-bench', 'qwen2.5-0.5b-shape-q8_0.gguf');
const CONTEXT_SIZE = 8192;

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
      overflow: isContextOverflow(prompt.stats.contextTokens, timed.promptTokens),
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

async function main(): Promise<void> {
  // Retrieval recall@5 (dev and held-out) and the relevance step's cost (issue 24): fast, no model needed.
  const issue24 = await retrievalBench();
  if (process.argv.includes('--retrieval-only')) return;
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
  console.log('\nsummary (TTFT figures cover only the turns llama.cpp served whole: ttftTurns)');
  const keys = Object.keys(summary.withoutPolicy) as (keyof typeof summary.withoutPolicy)[];
  const width = Math.max(...keys.map((k) => k.length));
  console.log(`${''.padEnd(width)}  ${'without'.padStart(9)}  ${'with'.padStart(9)}`);
  for (const k of keys) {
    console.log(
      `${k.padEnd(width)}  ${String(summary.withoutPolicy[k]).padStart(9)}  ${String(summary.withPolicy[k]).padStart(9)}`,
    );
  }
  if (on.errors.length) console.log(`errors with the policy: ${on.errors.join('; ')}`);
  const like = comparable(off, on);
  console.log(`\n${overflowNote('without the policy', off)}`);
  console.log(overflowNote('with the policy', on));
  console.log(
    `TTFT on the ${like.turns} turns both runs served whole: p50 ${like.withoutTtftP50Ms} ms without, ` +
      `${like.withTtftP50Ms} ms with the policy (p95 ${like.withoutTtftP95Ms} / ${like.withTtftP95Ms} ms).`,
  );
  if (off.rows.some((r) => r.overflow) && !on.rows.some((r) => r.overflow)) {
    console.log(
      `Past turn ${off.rows.find((r) => r.overflow)?.turn ?? '?'} only the policy keeps the conversation within the ` +
        "model's context; without it the model answers from a truncated prompt.",
    );
  }
  console.log(`\ntotal ${round((performance.now() - started) / 1000)} s`);
  const out = fileURLToPath(new URL('./results/context.json', import.meta.url));
  await mkdir(fileURLToPath(new URL('./results/', import.meta.url)), { recursive: true });
  await writeFile(
    out,
    `${JSON.stringify({ model: modelPath, turns, gapMs, ...summary, comparable: like, ...issue24, off, on }, null, 1)}\n`,
  );
  console.log(`written: ${out}`);
}

await main();
