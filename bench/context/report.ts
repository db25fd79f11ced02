/**
 * The context benchmark's figures (bench/context.ts): per-run statistics, the like-for-like comparison and the
 * context-overflow check, kept apart from the run itself so that tests can check them.
 */
import type { SummaryEvent } from '../../src/context/manager.ts';

export interface TurnRow {
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
  /** Context overflow: llama.cpp evaluated far fewer prompt tokens than we sent (it truncated the prompt). */
  overflow: boolean;
}

/**
 * llama.cpp truncated the prompt: it reports clearly fewer prompt tokens than our count (which agrees within
 * ~1 % when nothing is dropped; the tolerance leaves room for the chat format's rounding).
 */
export function isContextOverflow(contextTokens: number, promptTokens: number): boolean {
  return promptTokens < contextTokens - Math.max(16, Math.round(contextTokens * 0.05));
}

export interface RunResult {
  policy: boolean;
  rows: TurnRow[];
  summaries: SummaryEvent[];
  errors: string[];
}

export const percentile = (xs: number[], p: number) => {
  if (xs.length === 0) return Number.NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};
export const round = (x: number) => Math.round(x);

/** TTFT and token figures over the turns llama.cpp served whole; overflowed turns are only counted. */
export function stats(result: RunResult) {
  const all = result.rows;
  const rows = all.filter((r) => !r.overflow);
  const ttft = rows.map((r) => r.ttftMs);
  const steady = rows.filter((r) => !r.rewrite && !r.summarizing).map((r) => r.ttftMs);
  return {
    overflowTurns: all.length - rows.length,
    /** Turns the TTFT figures below cover: those llama.cpp served whole. */
    ttftTurns: rows.length,
    ttftP50Ms: round(percentile(ttft, 50)),
    ttftP95Ms: round(percentile(ttft, 95)),
    ttftMaxMs: round(ttft.length ? Math.max(...ttft) : Number.NaN),
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
    contextTokensMax: Math.max(...all.map((r) => r.contextTokens)),
    promptTokensMax: Math.max(...all.map((r) => r.promptTokens)),
    promptTokensLast: all.at(-1)?.promptTokens ?? 0,
    promptTokensSum: all.reduce((a, r) => a + r.promptTokens, 0),
    prefilledTokensSum: all.reduce((a, r) => a + r.prefilledTokens, 0),
    countErrorMeanPct:
      Math.round(
        (rows.reduce((a, r) => a + Math.abs(r.contextTokens - r.promptTokens) / r.promptTokens, 0) /
          Math.max(1, rows.length)) *
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

export function printTable(off: RunResult, on: RunResult): void {
  console.log(
    '\nper turn: our prompt count, prompt tokens (llama.cpp), prefilled tokens, TTFT ms — without | with the policy',
  );
  console.log(
    'turn    ours  tokens prefill    ttft  |    ours  tokens prefill    ttft  ' +
      '(O: context overflow, llama.cpp truncated the prompt; S: summary running; R: prompt rewritten)',
  );
  const cells = (r: TurnRow) =>
    `${String(r.contextTokens).padStart(7)} ${String(r.promptTokens).padStart(7)} ` +
    `${String(r.prefilledTokens).padStart(7)} ${String(round(r.ttftMs)).padStart(7)} ${r.overflow ? 'O' : ' '}`;
  for (let i = 0; i < off.rows.length; i++) {
    const a = off.rows[i];
    const b = on.rows[i];
    const flags = `${b.summarizing ? 'S' : ' '}${b.rewrite ? 'R' : ' '}`;
    console.log(`${String(a.turn).padStart(4)} ${cells(a)} | ${cells(b)}${flags}`);
  }
}

/** Plain sentences on the overflowed turns of a run. */
export function overflowNote(label: string, result: RunResult): string {
  const over = result.rows.filter((r) => r.overflow);
  if (over.length === 0) return `${label}: no context overflow (llama.cpp evaluated every prompt we sent).`;
  const first = over[0];
  const last = over.at(-1) as TurnRow;
  return (
    `${label}: context overflow: llama.cpp truncated the prompt on ${over.length} of ${result.rows.length} turns ` +
    `(turns ${first.turn}-${last.turn}; e.g. turn ${last.turn}: we sent ${last.contextTokens} tokens, llama.cpp ` +
    `evaluated ${last.promptTokens}). Their TTFT is for a prompt the model never saw whole, so they are left out ` +
    'of the TTFT figures.'
  );
}

/** TTFT on the turns both runs served whole: the like-for-like comparison. */
export function comparable(off: RunResult, on: RunResult) {
  const turns = off.rows.map((_, i) => i).filter((i) => !off.rows[i].overflow && !on.rows[i].overflow);
  const ttft = (result: RunResult) => turns.map((i) => result.rows[i].ttftMs);
  return {
    turns: turns.length,
    withoutTtftP50Ms: round(percentile(ttft(off), 50)),
    withTtftP50Ms: round(percentile(ttft(on), 50)),
    withoutTtftP95Ms: round(percentile(ttft(off), 95)),
    withTtftP95Ms: round(percentile(ttft(on), 95)),
  };
}
