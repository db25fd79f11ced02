/**
 * Language identification of text: what language a transcript or a typed message is in. A provider kind of its
 * own (like the turn detector): the session asks it about text the STT or the user produced, and it knows nothing
 * of audio, sessions or the other providers.
 */
export interface LanguageGuess {
  /** ISO 639-1, lower case (`en`, `es`). */
  language: string;
  /** The library's own score for it, in [0, 1]; comparable only between guesses of one identifier. */
  score: number;
}

export interface LanguageIdentifier {
  readonly name: string;
  /**
   * The likeliest languages of `text`, best first, among `allowed` (ISO 639-1) when given. Empty when the text
   * says nothing (no letters, or too short for the library to guess).
   */
  identify(text: string, allowed?: readonly string[]): LanguageGuess[];
}

/** `en-US`, `EN`, `es_419` → `en`, `en`, `es`: the form language identification and voice maps use. */
export function baseLanguage(tag: string): string {
  return tag.trim().split(/[-_]/)[0].toLowerCase();
}
