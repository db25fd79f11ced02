import { detectAll } from 'tinyld';
import { baseLanguage, type LanguageGuess, type LanguageIdentifier } from './contract.ts';

/**
 * tinyld (pure JavaScript, zero dependencies, ~40 MB): the runner-up to eld in bench/local/languages.ts (less
 * accurate on short utterances), kept as the lighter option and as the bench's alternative.
 */
export class TinyldIdentifier implements LanguageIdentifier {
  readonly name = 'tinyld';

  identify(text: string, allowed?: readonly string[]): LanguageGuess[] {
    if (typeof text !== 'string' || !/\p{L}/u.test(text)) return [];
    const langs = allowed?.map(baseLanguage);
    const guesses = detectAll(text, langs?.length ? { only: langs } : {});
    return guesses.map((guess) => ({ language: guess.lang, score: guess.accuracy }));
  }
}
