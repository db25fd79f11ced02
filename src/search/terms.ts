import { stemmer } from 'stemmer';

/**
 * Terms for lexical search over the conversation and the documents (context/ and the docs server alike): lower
 * case, English stop words out, Porter stems (so "budgets", "budgeted" and "budget" match). Used for indexing and
 * for queries alike.
 */
const STOP_WORDS = new Set(
  (
    'a an and are as at be been but by can could did do does for from had has have he her him his how i if in into ' +
    'is it its me my no not of on or our please she so than that the their them then there these they this to ' +
    'too us was we were what when where which who why will with would you your yes ok okay just tell about'
  ).split(' '),
);

export function searchTerm(term: string): string | null {
  const lower = term.toLowerCase();
  if (lower.length < 2 && !/\d/.test(lower)) return null;
  if (STOP_WORDS.has(lower)) return null;
  return /^[a-z]+$/.test(lower) ? stemmer(lower) : lower;
}

/** Splits on anything that is not a letter or a digit (Unicode-aware). */
export function tokenize(text: string): string[] {
  return text.split(/[^\p{L}\p{N}]+/u).filter(Boolean);
}
