import type { TurnDetector, TurnDetectorInput } from './contract.ts';
import { CONTINUATION_WORDS, CONTINUATION_WORDS_BY_LANGUAGE } from './wordlist.ts';

/**
 * A lexical end-of-turn detector: no model, microseconds per call. An utterance ending in a function word,
 * filler or a comma is probably unfinished; anything else probably finished. A model-based detector plugs into
 * the same contract.
 */
export class HeuristicTurnDetector implements TurnDetector {
  readonly name = 'wordlist';

  endOfTurnProbability({ transcript, language }: TurnDetectorInput): number {
    const text = transcript.trim().toLowerCase();
    if (!text) return 0;
    if (/[,;:\-–—]$/.test(text) || text.endsWith('...')) return 0.1;
    if (/[.!?।]$/.test(text)) return 0.95;
    const lastWord =
      text
        .split(/\s+/)
        .at(-1)
        ?.replace(/[^\p{L}']/gu, '') ?? '';
    // The session language's list (a switch mid-call changes it); English where there is none.
    const base = language?.split(/[-_]/)[0].toLowerCase() ?? 'en';
    const words = CONTINUATION_WORDS_BY_LANGUAGE[base] ?? CONTINUATION_WORDS;
    return words.has(lastWord) ? 0.15 : 0.8;
  }
}
