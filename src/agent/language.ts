import { baseLanguage, type LanguageIdentifier } from '../providers/langid/contract.ts';

/** Where the evidence for a switch came from. */
export type LanguageSource = 'stt' | 'text' | 'stt+text';

export interface LanguageChange {
  from: string;
  to: string;
  /** `stt`: the STT said so (the text identifier had no opinion); `text`: the identifier alone (typed input). */
  source: LanguageSource;
  /** The utterance that tipped it. */
  text: string;
}

export interface HysteresisOptions {
  /** Utterances shorter than this many words are no evidence either way ("gracias", "okay"). Default 2. */
  minWords: number;
  /**
   * Words of consecutive evidence for another language needed to switch. One utterance of this many words
   * switches at once; shorter ones add up while no utterance in the current language comes between. Default 4.
   */
  switchWords: number;
}

export const DEFAULT_HYSTERESIS: HysteresisOptions = { minWords: 2, switchWords: 4 };

/**
 * The language of a conversation, which may change while it runs, with hysteresis: a borrowed word inside a
 * sentence in the current language, a one-word answer or one short phrase does not switch it. Each user utterance
 * is judged on the STT's language (when it reports one) and on the text (a language-identification library,
 * restricted to the allowed languages); when both speak and disagree, the utterance counts for nothing.
 */
export class SessionLanguage {
  private language: string;
  private pending: { language: string; words: number } | undefined;
  readonly allowed: readonly string[];
  private readonly hysteresis: HysteresisOptions;

  constructor(options: {
    allowed: readonly string[];
    initial?: string;
    identifier?: LanguageIdentifier;
    hysteresis?: Partial<HysteresisOptions>;
  }) {
    const allowed = [...new Set(options.allowed.map(baseLanguage))];
    if (allowed.length === 0) throw new RangeError('languages.allowed needs at least one language');
    for (const tag of allowed)
      if (!/^[a-z]{2,3}$/.test(tag))
        throw new RangeError(`languages.allowed: "${tag}" is not a language code`);
    const initial = baseLanguage(options.initial ?? allowed[0]);
    if (!allowed.includes(initial))
      throw new RangeError(
        `the session language "${initial}" is not in languages.allowed (${allowed.join(', ')})`,
      );
    this.allowed = allowed;
    this.language = initial;
    this.identifier = options.identifier;
    this.hysteresis = { ...DEFAULT_HYSTERESIS, ...options.hysteresis };
  }

  private readonly identifier: LanguageIdentifier | undefined;

  get current(): string {
    return this.language;
  }

  /** The language the text identifier gives `text` among the allowed ones (undefined: no opinion). */
  identify(text: string): string | undefined {
    if (!this.identifier || this.allowed.length < 2) return undefined;
    return this.identifier.identify(text, this.allowed)[0]?.language;
  }

  /**
   * One user utterance: its text and the languages the STT reported for it (one per final, each final's
   * language of most words; the commonest allowed one counts). Returns the change when this utterance switched
   * the session language.
   */
  observe(text: string, sttLanguages: readonly string[] = []): LanguageChange | undefined {
    const all = text
      .trim()
      .split(/\s+/)
      .filter((w) => /\p{L}/u.test(w));
    if (all.length < this.hysteresis.minWords || this.allowed.length < 2) return undefined;
    const stt = commonest(sttLanguages.map(baseLanguage).filter((l) => this.allowed.includes(l)));
    // Words in another script are judged apart ("thanks a lot спасибо": three English words, one Russian):
    // a word or two in a script of their own would otherwise outweigh the sentence around them.
    const runs = [...groupByScript(all).values()].map((group) => ({
      words: group.length,
      language: this.identify(group.join(' ')),
    }));
    const main = runs.reduce((a, b) => (b.words > a.words ? b : a));
    const fromText = main.language;
    const words = runs.length > 1 ? main.words : all.length;
    if (words < this.hysteresis.minWords) return undefined;
    if (stt && fromText && stt !== fromText) return undefined; // the two disagree: no evidence
    const heard = stt ?? fromText;
    if (!heard) return undefined;
    if (heard === this.language) {
      this.pending = undefined;
      return undefined;
    }
    const sofar = this.pending?.language === heard ? this.pending.words : 0;
    this.pending = { language: heard, words: sofar + words };
    if (this.pending.words < this.hysteresis.switchWords) return undefined;
    const change: LanguageChange = {
      from: this.language,
      to: heard,
      source: stt && fromText ? 'stt+text' : stt ? 'stt' : 'text',
      text,
    };
    this.language = heard;
    this.pending = undefined;
    return change;
  }
}

/** The value seen most often (ties: the first seen); undefined for none. */
function commonest(values: readonly string[]): string | undefined {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  let best: string | undefined;
  for (const [value, count] of counts)
    if (best === undefined || count > (counts.get(best) ?? 0)) best = value;
  return best;
}

/** Words grouped by the script of their first letter (Latin, Cyrillic, Devanagari, Greek, Han, ...). */
function groupByScript(words: readonly string[]): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const word of words) {
    const letter = word.match(/\p{L}/u)?.[0] ?? '';
    const script = SCRIPTS.find(([, re]) => re.test(letter))?.[0] ?? 'other';
    groups.set(script, [...(groups.get(script) ?? []), word]);
  }
  return groups;
}

const SCRIPTS: [string, RegExp][] = [
  ['latin', /\p{Script=Latin}/u],
  ['cyrillic', /\p{Script=Cyrillic}/u],
  ['devanagari', /\p{Script=Devanagari}/u],
  ['greek', /\p{Script=Greek}/u],
  ['arabic', /\p{Script=Arabic}/u],
  ['hebrew', /\p{Script=Hebrew}/u],
  ['han', /\p{Script=Han}/u],
  ['kana', /[\p{Script=Hiragana}\p{Script=Katakana}]/u],
  ['hangul', /\p{Script=Hangul}/u],
];
