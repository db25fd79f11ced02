/**
 * LLM benchmark: load time, second-turn time to first token with and without KV-cache reuse, decode tokens/s, and
 * decode speed with 1 vs 2 threads while another core is busy (the audio path's share of a 2-core box).
 *
 * Models: the real stories260K fixture, and a GGUF with Qwen2.5-0.5B-Instruct's exact shape and random weights that
 * this program writes itself (bench/local/gguf-synth.ts; nothing is downloaded). Run alone:
 *   npx tsx bench/local/llm.ts
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChatMessage, LlmChunk } from '../../src/providers/llm/contract.ts';
import { LlamaLlm, type LlamaLlmOptions } from '../../src/providers/llm/llama.ts';
import { loadSharedModel, sharedLlama, unloadSharedModels } from '../../src/providers/llm/llama-models.ts';
import { ensureSynthGguf } from './gguf-synth.ts';

const STORIES = fileURLToPath(new URL('../../test/fixtures/models/stories260K.gguf', import.meta.url));
const SYNTH = join(tmpdir(), 'repartee-bench', 'qwen2.5-0.5b-shape-q8_0.gguf');
const REPEATS = 3;

// A voice-agent-sized prompt: a system prompt, one exchange, then the turn being timed.
const SYSTEM =
  'You are Repartee, a friendly voice assistant. Answer in one or two short spoken sentences. Do not use lists, ' +
  'markdown or emoji, because everything you write is read aloud. If you are not sure, say so briefly and ask one ' +
  'clarifying question. Keep the conversation moving and let the user interrupt you at any time.';
const USER1 = 'Hi there, can you tell me a short story about a girl named Lily and her dog?';
const REPLY1 =
  'Once upon a time, Lily had a little brown dog named Max. Every morning they ran to the park together, and Max ' +
  'chased the ball until he was tired.';
const USER2 = 'That is nice. What did Lily and the dog do the next day in the park?';

interface TurnStats {
  ttftMs: number;
  totalMs: number;
  promptTokens: number;
  prefilledTokens: number;
  completionTokens: number;
  tokensPerSecond: number;
}

async function timedTurn(
  llm: LlamaLlm,
  messages: ChatMessage[],
  maxTokens: number,
): Promise<TurnStats & { text: string }> {
  const started = performance.now();
  let first = 0;
  let text = '';
  let usage: Extract<LlmChunk, { type: 'usage' }> | undefined;
  for await (const c of llm.chat({ messages, signal: new AbortController().signal, maxTokens })) {
    if (c.type === 'text') {
      first ||= performance.now();
      text += c.delta;
    } else if (c.type === 'usage') usage = c;
  }
  const end = performance.now();
  const completion = usage?.completionTokens ?? 0;
  return {
    text,
    ttftMs: (first || end) - started,
    totalMs: end - started,
    promptTokens: usage?.promptTokens ?? 0,
    prefilledTokens: (usage?.promptTokens ?? 0) - (usage?.cachedTokens ?? 0),
    completionTokens: completion,
    // The first token's time belongs to prefill; decode speed counts the tokens after it.
    tokensPerSecond: completion > 1 && first ? (completion - 1) / ((end - first) / 1000) : 0,
  };
}

/**
 * Turn 1, then the timed turn 2 on the same LLM (so the cache holds turn 1 when reuse is on). Turn 1's reply is a
 * fixed text the model continues by one token: the random-weight model writes filler tokens that do not survive a
 * round trip through text, which would make its cache look useless for reasons no real model shares.
 */
async function secondTurn(options: LlamaLlmOptions): Promise<TurnStats> {
  const llm = new LlamaLlm({ temperature: 0, ...options });
  const history: ChatMessage[] = [
    { role: 'system', content: SYSTEM },
    { role: 'user', content: USER1 },
    { role: 'assistant', content: REPLY1 },
  ];
  await timedTurn(llm, history, 1);
  const second = await timedTurn(llm, [...history, { role: 'user', content: USER2 }], 64);
  await llm.close();
  return second;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function medianOf(runs: number, f: () => Promise<TurnStats>): Promise<TurnStats> {
  const all: TurnStats[] = [];
  for (let i = 0; i < runs; i++) all.push(await f());
  const pick = (k: keyof TurnStats) => median(all.map((s) => s[k]));
  return {
    ttftMs: pick('ttftMs'),
    totalMs: pick('totalMs'),
    promptTokens: pick('promptTokens'),
    prefilledTokens: pick('prefilledTokens'),
    completionTokens: pick('completionTokens'),
    tokensPerSecond: pick('tokensPerSecond'),
  };
}

function busyCore(): ChildProcess {
  return spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' });
}

async function benchModel(label: string, modelPath: string): Promise<Record<string, unknown>> {
  const t0 = performance.now();
  const model = await loadSharedModel(modelPath);
  const loadMs = performance.now() - t0;
  const base: LlamaLlmOptions = { modelPath, threads: 1 };
  // One untimed turn so the first measured one does not pay one-off allocations.
  await secondTurn(base);
  const warm = await medianOf(REPEATS, () => secondTurn({ ...base, reuseKvCache: true }));
  const cold = await medianOf(REPEATS, () => secondTurn({ ...base, reuseKvCache: false }));
  const threads: Record<string, number> = {};
  for (const busy of [false, true]) {
    for (const n of [1, 2]) {
      const hog = busy ? busyCore() : undefined;
      try {
        await new Promise((r) => setTimeout(r, 200));
        const s = await secondTurn({ ...base, threads: n });
        threads[`threads${n}${busy ? 'Busy' : 'Idle'}TokPerS`] = Math.round(s.tokensPerSecond);
        threads[`threads${n}${busy ? 'Busy' : 'Idle'}TtftMs`] = Math.round(s.ttftMs);
      } finally {
        hog?.kill();
      }
    }
  }
  return {
    model: label,
    fileMiB: Math.round(model.size / 1048576),
    loadMs: Math.round(loadMs),
    turn2PromptTokens: warm.promptTokens,
    turn2TtftKvReuseMs: Math.round(warm.ttftMs),
    turn2PrefilledKvReuse: warm.prefilledTokens,
    turn2TtftNoReuseMs: Math.round(cold.ttftMs),
    turn2PrefilledNoReuse: cold.prefilledTokens,
    tokensPerSecond: Math.round(warm.tokensPerSecond),
    decodedTokens: warm.completionTokens,
    ...threads,
  };
}

export async function benchLlm(): Promise<Record<string, unknown>> {
  const t0 = performance.now();
  await sharedLlama();
  const backendInitMs = Math.round(performance.now() - t0);
  const gen0 = performance.now();
  const synth = await ensureSynthGguf(SYNTH, { storiesPath: STORIES });
  const synthWriteMs = synth.written ? Math.round(performance.now() - gen0) : 0;
  const stories = await benchModel('stories260K (real, F32)', STORIES);
  const qwenShape = await benchModel('Qwen2.5-0.5B shape (random Q8_0)', SYNTH);
  await unloadSharedModels();
  const result = {
    backendInitMs,
    synthGguf: SYNTH,
    synthWriteMs,
    defaultThreads: 1,
    models: [stories, qwenShape],
  };
  printTable(result);
  return result;
}

function printTable(result: Record<string, unknown>): void {
  const rows = result.models as Record<string, unknown>[];
  const keys = Object.keys(rows[0]).filter((k) => k !== 'model');
  const width = Math.max(...keys.map((k) => k.length));
  const cols = rows.map((r) => String(r.model));
  const colWidth = Math.max(...cols.map((c) => c.length), 10);
  console.log(`\nLLM (node-llama-cpp, CPU; backend init ${result.backendInitMs} ms)`);
  console.log(`${''.padEnd(width)}  ${cols.map((c) => c.padStart(colWidth)).join('  ')}`);
  for (const k of keys) {
    console.log(`${k.padEnd(width)}  ${rows.map((r) => String(r[k]).padStart(colWidth)).join('  ')}`);
  }
  console.log(
    `\nsynthetic GGUF: ${result.synthGguf}${result.synthWriteMs ? ` (written in ${result.synthWriteMs} ms)` : ''}`,
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await benchLlm();
