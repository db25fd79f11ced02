import { baseLanguage, type LanguageGuess, type LanguageIdentifier } from './contract.ts';

/** eld's databases: larger ones know more n-grams (more accurate on short text) and cost more memory. */
export type EldSize = 'extrasmall' | 'small' | 'medium' | 'large';

type Eld = typeof import('eld')['eld'];

/**
 * eld (Nito-ELD: n-gram tables in plain JavaScript, synchronous, tens of µs per short utterance). Loaded once per
 * process (`loadEld`); each session's identifier is a cheap view on the shared tables.
 */
export class EldIdentifier implements LanguageIdentifier {
  readonly name: string;
  private subset = '';

  constructor(
    private readonly instance: Eld,
    size: EldSize,
  ) {
    this.name = `eld-${size}`;
  }

  identify(text: string, allowed?: readonly string[]): LanguageGuess[] {
    if (typeof text !== 'string' || !/\p{L}/u.test(text)) return [];
    const key = allowed?.map(baseLanguage).join(',') ?? '';
    if (key !== this.subset) {
      this.instance.setLanguageSubset(key ? key.split(',') : false);
      this.subset = key;
    }
    const scores = Object.entries(this.instance.detect(text).getScores());
    return scores.map(([language, score]) => ({ language, score })).sort((a, b) => b.score - a.score);
  }
}

const loaded = new Map<EldSize, Promise<Eld>>();

/**
 * The eld database of `size`, imported once per process. Default `small` (~0.5 s, ~105 MB RSS): the smallest
 * with the best dev accuracy in bench/local/languages.ts (medium and large were no better on short utterances).
 */
export async function loadEld(size: EldSize = 'small'): Promise<EldIdentifier> {
  let module = loaded.get(size);
  if (!module) {
    module = importEld(size);
    loaded.set(size, module);
  }
  // Each identifier its own instance: a language subset set by one never changes another's answers.
  return new EldIdentifier((await module).newInstance(), size);
}

async function importEld(size: EldSize): Promise<Eld> {
  switch (size) {
    case 'extrasmall':
      return (await import('eld/extrasmall')).eld;
    case 'small':
      return (await import('eld/small')).eld;
    case 'medium':
      return (await import('eld/medium')).eld;
    case 'large':
      return (await import('eld/large')).eld;
  }
}
