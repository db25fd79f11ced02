import type { TurnDetector, TurnDetectorInput } from './contract.ts';

/** Words that, at the end of an utterance, mean the speaker has more to say. */
const CONTINUATION_WORDS = new Set([
  'a',
  'an',
  'the',
  'and',
  'or',
  'but',
  'so',
  'because',
  'if',
  'to',
  'of',
  'in',
  'on',
  'for',
  'with',
  'at',
  'from',
  'my',
  'your',
  'their',
  'our',
  'his',
  'her',
  'its',
  'is',
  'are',
  'was',
  'were',
  'am',
  'be',
  'um',
  'uh',
  'er',
  'erm',
  'like',
  'that',
  'which',
  'who',
  'when',
  'where',
  'then',
  'than',
  'about',
  'into',
  'i',
  "i'm",
  'we',
  'you',
  'they',
  'want',
  'need',
  'think',
  'maybe',
  'also',
  'some',
  'very',
  'really',
  'just',
  'let',
  "let's",
]);

/**
 * A lexical end-of-turn detector: no model, microseconds per call. An utterance ending in a function word,
 * filler or a comma is probably unfinished; anything else probably finished. A model-based detector plugs into
 * the same contract.
 */
export class HeuristicTurnDetector implements TurnDetector {
  readonly name = 'heuristic';

  endOfTurnProbability({ transcript }: TurnDetectorInput): number {
    const text = transcript.trim().toLowerCase();
    if (!text) return 0;
    if (/[,;:\-–—]$/.test(text) || text.endsWith('...')) return 0.1;
    if (/[.!?]$/.test(text)) return 0.95;
    const lastWord =
      text
        .split(/\s+/)
        .at(-1)
        ?.replace(/[^a-z']/g, '') ?? '';
    return CONTINUATION_WORDS.has(lastWord) ? 0.15 : 0.8;
  }
}
