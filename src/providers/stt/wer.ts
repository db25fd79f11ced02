/**
 * Word error rate: (substitutions + deletions + insertions) / reference words, by Levenshtein alignment over
 * words. Case, punctuation (apart from apostrophes inside words) and spacing are ignored, since an STT's
 * formatting is not what we measure.
 */

export interface WerResult {
  wer: number;
  substitutions: number;
  deletions: number;
  insertions: number;
  referenceWords: number;
}

export function normalizeWords(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{N}'\s]+/gu, ' ')
    .replace(/(^|\s)'+|'+(?=\s|$)/g, ' ')
    .split(/\s+/)
    .filter(Boolean);
}

export function wordErrors(reference: string, hypothesis: string): WerResult {
  const ref = normalizeWords(reference);
  const hyp = normalizeWords(hypothesis);
  // cost[j] and ops[j] hold the best alignment of ref[0..i) with hyp[0..j); one row at a time.
  type Cell = { cost: number; s: number; d: number; n: number };
  let prev: Cell[] = Array.from({ length: hyp.length + 1 }, (_, j) => ({ cost: j, s: 0, d: 0, n: j }));
  for (let i = 1; i <= ref.length; i++) {
    const row: Cell[] = [{ cost: i, s: 0, d: i, n: 0 }];
    for (let j = 1; j <= hyp.length; j++) {
      const same = ref[i - 1] === hyp[j - 1];
      const diag = prev[j - 1];
      const up = prev[j];
      const left = row[j - 1];
      const options: Cell[] = [
        { cost: diag.cost + (same ? 0 : 1), s: diag.s + (same ? 0 : 1), d: diag.d, n: diag.n },
        { cost: up.cost + 1, s: up.s, d: up.d + 1, n: up.n },
        { cost: left.cost + 1, s: left.s, d: left.d, n: left.n + 1 },
      ];
      row.push(options.reduce((best, o) => (o.cost < best.cost ? o : best)));
    }
    prev = row;
  }
  const end = prev[hyp.length];
  const referenceWords = ref.length;
  return {
    wer: referenceWords === 0 ? (hyp.length === 0 ? 0 : 1) : end.cost / referenceWords,
    substitutions: end.s,
    deletions: end.d,
    insertions: end.n,
    referenceWords,
  };
}

/** WER over a corpus: total errors over total reference words (not the mean of per-utterance rates). */
export function corpusWer(pairs: readonly { reference: string; hypothesis: string }[]): WerResult {
  const total: WerResult = { wer: 0, substitutions: 0, deletions: 0, insertions: 0, referenceWords: 0 };
  for (const { reference, hypothesis } of pairs) {
    const r = wordErrors(reference, hypothesis);
    total.substitutions += r.substitutions;
    total.deletions += r.deletions;
    total.insertions += r.insertions;
    total.referenceWords += r.referenceWords;
  }
  const errors = total.substitutions + total.deletions + total.insertions;
  total.wer = total.referenceWords === 0 ? (errors === 0 ? 0 : 1) : errors / total.referenceWords;
  return total;
}
