import { createHash } from 'node:crypto';

/** Text as a TTS key: Unicode-normalised, white space collapsed and trimmed (case and punctuation kept: they change how it is said). */
export function normalizeSpokenText(text: string): string {
  return text.normalize('NFKC').replace(/\s+/g, ' ').trim();
}

/**
 * A user's words as a response-cache key: lower case, curly quotes straightened, punctuation dropped (except
 * apostrophes inside words), white space collapsed. "What are your hours?" and "what are your hours" match.
 */
export function normalizeQuestion(text: string): string {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[’‘`]/g, "'")
    .replace(/[^\p{L}\p{N}'\s]/gu, ' ')
    .replace(/(^|\s)'+|'+(?=\s|$)/g, '$1')
    .replace(/\s+/g, ' ')
    .trim();
}

/** A stable hex digest of the parts (JSON-encoded, so ["a b", "c"] and ["a", "b c"] differ). */
export function digestOf(parts: readonly unknown[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}
