import { describe, expect, it } from 'vitest';
import {
  comparable,
  isContextOverflow,
  overflowNote,
  type RunResult,
  stats,
  type TurnRow,
} from '../bench/context/report.ts';

/** A run shaped like the stories260K figures: the prompt grows 66 tokens a turn; the model's context is 2,048. */
function run(policy: boolean, turns: number): RunResult {
  const rows: TurnRow[] = [];
  for (let turn = 1; turn <= turns; turn++) {
    const contextTokens = policy ? Math.min(184 + 66 * (turn - 1), 1900) : 184 + 66 * (turn - 1);
    // Past the context node-llama-cpp keeps ~124 tokens and answers at once; otherwise it sees the whole prompt.
    const truncated = contextTokens > 2048;
    const promptTokens = truncated ? 124 : contextTokens + 10;
    rows.push({
      turn,
      contextTokens,
      promptTokens,
      prefilledTokens: truncated ? 0 : 70,
      ttftMs: truncated ? 10 : policy ? 400 : 40 + contextTokens / 10,
      summarizing: false,
      rewrite: false,
      overflow: isContextOverflow(contextTokens, promptTokens),
    });
  }
  return { policy, rows, summaries: [], errors: [] };
}

describe('context benchmark report', () => {
  it('flags turns where llama.cpp evaluated far fewer prompt tokens than we sent', () => {
    expect(isContextOverflow(4433, 124)).toBe(true);
    expect(isContextOverflow(2151, 1839)).toBe(true);
    // Our count and llama.cpp's agree within a few per cent when nothing is dropped.
    expect(isContextOverflow(1497, 1513)).toBe(false);
    expect(isContextOverflow(1882, 1860)).toBe(false);
    expect(isContextOverflow(184, 181)).toBe(false);
  });

  it('leaves overflowed turns out of the TTFT figures, counts them and says so plainly', () => {
    const off = run(false, 100);
    const on = run(true, 100);
    const without = stats(off);
    const withPolicy = stats(on);
    expect(without.overflowTurns).toBe(71);
    expect(withPolicy.overflowTurns).toBe(0);
    // The truncated turns' 10 ms would otherwise make "without" look fastest.
    expect(without.ttftP50Ms).toBeGreaterThan(100);
    expect(without.ttftTurns).toBe(29);
    expect(without.countErrorMeanPct).toBeLessThan(5);
    expect(without.contextTokensMax).toBe(184 + 66 * 99);
    expect(overflowNote('without the policy', off)).toContain(
      'context overflow: llama.cpp truncated the prompt on 71 of 100 turns',
    );
    expect(overflowNote('with the policy', on)).toContain('no context overflow');
    expect(comparable(off, on)).toMatchObject({ turns: 29, withTtftP50Ms: 400 });
  });
});
