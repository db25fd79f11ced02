import { describe, expect, it } from 'vitest';
import { diffLines, splitLines, unifiedDiff } from './diff.ts';

/** A deterministic pseudo-random generator, so a failing case can be replayed. */
function lcg(seed: number) {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

describe('diffLines', () => {
  it('is a minimal edit script that rebuilds both sides (randomized)', () => {
    const random = lcg(42);
    for (let round = 0; round < 300; round++) {
      const a = Array.from({ length: Math.floor(random() * 12) }, () => 'abcd'[Math.floor(random() * 4)]);
      const b = Array.from({ length: Math.floor(random() * 12) }, () => 'abcd'[Math.floor(random() * 4)]);
      const ops = diffLines(a, b)!;
      expect(ops.filter((o) => o.kind !== 'added').map((o) => o.line)).toEqual(a);
      expect(ops.filter((o) => o.kind !== 'removed').map((o) => o.line)).toEqual(b);
      // Minimal: the unchanged lines are a longest common subsequence.
      expect(ops.filter((o) => o.kind === 'same').length).toBe(lcsLength(a, b));
    }
  });

  it('gives up beyond the edit limit instead of running away', () => {
    const a = Array.from({ length: 50 }, (_, i) => `a${i}`);
    const b = Array.from({ length: 50 }, (_, i) => `b${i}`);
    expect(diffLines(a, b, 20)).toBeUndefined();
    expect(diffLines(a, b)).toHaveLength(100);
  });
});

describe('unifiedDiff', () => {
  it('writes hunks with context and line numbers', () => {
    const a = 'one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\nten\n';
    const b = 'one\nTWO\nthree\nfour\nfive\nsix\nseven\neight\nnine\nten\neleven\n';
    expect(unifiedDiff('a.txt', a, 'b.txt', b, 1)).toBe(
      [
        '--- a.txt',
        '+++ b.txt',
        '@@ -1,3 +1,3 @@',
        ' one',
        '-two',
        '+TWO',
        ' three',
        '@@ -10,1 +10,2 @@',
        ' ten',
        '+eleven',
      ].join('\n'),
    );
    expect(unifiedDiff('a', a, 'b', a)).toBe('');
    expect(unifiedDiff('a', '', 'b', 'x\n')).toBe(['--- a', '+++ b', '@@ -0,0 +1,1 @@', '+x'].join('\n'));
  });

  it('splits CRLF and LF alike', () => {
    expect(splitLines('a\r\nb\n')).toEqual(['a', 'b']);
    expect(splitLines('')).toEqual([]);
  });
});

function lcsLength(a: string[], b: string[]): number {
  const table = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++)
      table[i][j] =
        a[i - 1] === b[j - 1] ? table[i - 1][j - 1] + 1 : Math.max(table[i - 1][j], table[i][j - 1]);
  return table[a.length][b.length];
}
