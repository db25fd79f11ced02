import { CONTINUATION_WORDS_BY_LANGUAGE } from './wordlist.ts';

/**
 * The text's evidence, in log-odds, for a language the fitted text model (English) does not cover: a sentence
 * left open on a continuation word of that language (wordlist.ts), a comma or an ellipsis says "more to come";
 * sentence-final punctuation (cloud STTs punctuate) says "done"; anything else says nothing. Hand-set, like
 * the prosody and STT nudges (audio-signals.ts), not fitted: there is no dataset in these languages.
 */
export function otherLanguageTextLogOdds(transcript: string, language: string | undefined): number {
  const text = transcript.trim().toLowerCase();
  if (!text) return 0;
  if (/[,;:\-–—]$/.test(text) || text.endsWith('...') || text.endsWith('…')) return -1.5;
  if (/[.!?।]$/.test(text)) return 0.8;
  const words = CONTINUATION_WORDS_BY_LANGUAGE[(language ?? '').split(/[-_]/)[0].toLowerCase()];
  const last =
    text
      .split(/\s+/)
      .at(-1)
      ?.replace(/[^\p{L}']/gu, '') ?? '';
  return words?.has(last) ? -1.5 : 0;
}
