import { describe, expect, it } from 'vitest';
import { corpusWer, normalizeWords, wordErrors } from './wer.ts';

describe('word error rate', () => {
  it('is zero for the same words whatever the case and punctuation', () => {
    expect(wordErrors('Go forward, ten meters.', 'go forward ten meters').wer).toBe(0);
    expect(normalizeWords("Don't STOP -- 'now'")).toEqual(["don't", 'stop', 'now']);
  });

  it('counts substitutions, deletions and insertions', () => {
    const r = wordErrors(
      'he was not an ill disposed young man',
      'he was not an illness those young man today',
    );
    expect(r).toMatchObject({ substitutions: 2, deletions: 0, insertions: 1, referenceWords: 8 });
    expect(r.wer).toBeCloseTo(3 / 8);
    expect(wordErrors('a b c d', 'a d')).toMatchObject({
      deletions: 2,
      substitutions: 0,
      insertions: 0,
      wer: 0.5,
    });
  });

  it('handles empty sides', () => {
    expect(wordErrors('', '').wer).toBe(0);
    expect(wordErrors('', 'noise').wer).toBe(1);
    expect(wordErrors('two words', '').wer).toBe(1);
  });

  it('pools errors over a corpus', () => {
    const r = corpusWer([
      { reference: 'a b c d', hypothesis: 'a b c d' },
      { reference: 'e f', hypothesis: 'e x' },
    ]);
    expect(r.wer).toBeCloseTo(1 / 6);
  });
});
