import { normalizeQuestion } from './normalize.ts';

/**
 * Words that point back into the conversation: pronouns and determiners that need an antecedent, and the
 * markers of a follow-up ("again", "instead", "what about"). A turn holding one may mean something else after
 * different earlier turns, so it is never answered from the response cache. Deliberately broad: a false
 * "depends" costs one LLM call, a false "does not depend" gives a wrong answer.
 */
const REFERRING = new Set([
  'it',
  "it's",
  'its',
  'that',
  "that's",
  'this',
  'these',
  'those',
  'they',
  "they're",
  'them',
  'their',
  'he',
  'she',
  'him',
  'her',
  'his',
  'hers',
  'one',
  'ones',
  'again',
  'else',
  'more',
  'other',
  'another',
  'same',
  'previous',
  'earlier',
  'before',
  'above',
  'last',
  'said',
  'say',
  'mentioned',
  'also',
  'too',
  'instead',
  'then',
  'former',
  'latter',
  'such',
  'first',
  'second',
  'next',
  'why',
  'continue',
  'repeat',
]);
const FOLLOW_UP_OPENINGS = [
  'and',
  'but',
  'so',
  'or',
  'what about',
  'how about',
  'yes',
  'yeah',
  'no',
  'nope',
  'ok',
  'okay',
  'sure',
  'right',
  'really',
  'thanks',
  'thank you',
  'go on',
  'tell me more',
];
/** Fewer words than this is an answer or a fragment ("Tuesday.", "the blue one"), not a question of its own. */
const MIN_WORDS = 3;

/** Whether the user's words may depend on earlier turns (then the response cache stays out of the turn). */
export function refersToEarlierTurns(text: string): boolean {
  const normalized = normalizeQuestion(text);
  const words = normalized.split(' ').filter(Boolean);
  if (words.length < MIN_WORDS) return true;
  if (FOLLOW_UP_OPENINGS.some((opening) => normalized === opening || normalized.startsWith(`${opening} `))) {
    return true;
  }
  return words.some((word) => REFERRING.has(word));
}

/** Whether a reply leans on earlier turns ("as I said", "again") and so must not be stored. */
export function replyRefersToEarlierTurns(text: string): boolean {
  const normalized = normalizeQuestion(text);
  return /\b(as i (said|mentioned)|you (said|mentioned|asked)|again|earlier|before|like i said|as before)\b/.test(
    normalized,
  );
}
