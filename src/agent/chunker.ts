/**
 * When the first text goes to the TTS:
 * - `sentence`: whole sentences (a sentence-at-a-time engine needs them for its prosody); a long first sentence is
 *   still cut at its first clause boundary once `firstClauseMinChars` have been written.
 * - `first-clause`: the first chunk at the first clause boundary (, ; : or a sentence end) or after
 *   `firstChunkWords` words, whichever comes first; then whole sentences. For engines that take streamed input.
 * - `word`: every word as written (the lower bound on waiting; the engine gets no sentence context per chunk).
 */
export type ChunkStrategy = 'sentence' | 'first-clause' | 'word';

export interface SentenceChunkerOptions {
  /** Default: `first-clause` for a TTS with `streamingInput`, otherwise `sentence`. */
  strategy?: ChunkStrategy;
  /** The TTS takes streamed input (its `streamingInput` capability): picks the default strategy. */
  streamingInput?: boolean;
  /** Shorter sentences wait to be joined with the next, so TTS is not fed "Hi." alone... unless the reply ends. */
  minSentenceChars?: number;
  /** Past this, a sentence is split at a clause boundary so the first audio is not held back by run-ons. */
  maxSentenceChars?: number;
  /** `first-clause`: the first chunk goes after this many words if no clause boundary came first. Default 4. */
  firstChunkWords?: number;
  /** `sentence`: a first sentence is cut at a clause boundary when the clause is at least this long. Default 60. */
  firstClauseMinChars?: number;
  /** The reply's language (ISO 639-1): its abbreviations and ordinal dots do not end a sentence. Default `en`. */
  language?: string;
}

const ABBREVIATIONS = /\b(?:mr|mrs|ms|dr|prof|sr|jr|st|vs|etc|e\.g|i\.e|no|approx)\.$/i;

/** Per-language rules: abbreviations that end in a dot, and whether "3." is an ordinal (German "am 3. Mai"). */
const LANGUAGE_RULES: Record<string, { abbreviations: string[]; ordinalDot?: boolean }> = {
  es: { abbreviations: ['sr', 'sra', 'srta', 'dr', 'dra', 'ud', 'uds', 'etc', 'pág', 'núm', 'av', 'aprox'] },
  fr: { abbreviations: ['m', 'mme', 'mlle', 'dr', 'etc', 'p\\.ex', 'av', 'env', 'cf'] },
  de: {
    abbreviations: ['z\\.b', 'bzw', 'usw', 'nr', 'str', 'dr', 'ca', 'u\\.a', 'd\\.h', 'evtl', 'ggf'],
    ordinalDot: true,
  },
  it: { abbreviations: ['sig', 'sig\\.ra', 'dott', 'ecc', 'prof', 'n'] },
  pt: { abbreviations: ['sr', 'sra', 'dr', 'dra', 'etc', 'av', 'n\\.º'] },
  nl: { abbreviations: ['dhr', 'mevr', 'bijv', 'nr', 'enz', 'o\\.a', 'd\\.w\\.z'] },
  ru: { abbreviations: ['т\\.е', 'т\\.д', 'т\\.п', 'г', 'ул', 'др'] },
  cs: { abbreviations: ['např', 'tj', 'atd', 'č', 'ul', 'tzv'], ordinalDot: true },
  fi: { abbreviations: ['esim', 'jne', 'ns', 'ks', 'n', 'klo'], ordinalDot: true },
  ca: { abbreviations: ['sr', 'sra', 'dr', 'dra', 'etc', 'núm', 'pàg'] },
};

/** The test "the text so far ends in an abbreviation's dot" for `language`. */
function abbreviationsOf(language: string | undefined): RegExp {
  const rules = LANGUAGE_RULES[(language ?? 'en').split(/[-_]/)[0].toLowerCase()];
  if (!rules) return ABBREVIATIONS;
  const words = rules.abbreviations.join('|');
  const ordinal = rules.ordinalDot ? '|\\d{1,3}' : '';
  return new RegExp(`(?:^|[^\\p{L}\\p{N}.])(?:${words}${ordinal})\\.$`, 'iu');
}

/**
 * Cuts streamed LLM text into sentences for TTS. A sentence ends at . ! ? or a newline followed by whitespace,
 * so "3.5" and "e.g. this" are not split.
 */
export class SentenceChunker {
  private buffer = '';
  private readonly minChars: number;
  private readonly maxChars: number;
  readonly strategy: ChunkStrategy;
  private readonly firstChunkWords: number;
  private readonly firstClauseMinChars: number;
  private readonly abbreviations: RegExp;
  /** Chunks handed out so far (the first one is the one that may go early). */
  private emitted = 0;

  constructor(options: SentenceChunkerOptions = {}) {
    this.minChars = options.minSentenceChars ?? 12;
    this.maxChars = options.maxSentenceChars ?? 250;
    this.strategy = options.strategy ?? (options.streamingInput ? 'first-clause' : 'sentence');
    this.firstChunkWords = options.firstChunkWords ?? 4;
    this.firstClauseMinChars = options.firstClauseMinChars ?? 60;
    this.abbreviations = abbreviationsOf(options.language);
  }

  /** Adds text; returns the chunks (sentences, or an early first clause) it completed. */
  push(delta: string): string[] {
    this.buffer += delta;
    const out = this.pushChunks();
    this.emitted += out.length;
    return out;
  }

  private pushChunks(): string[] {
    if (this.strategy === 'word') return this.takeWords();
    if (this.emitted === 0) {
      const early = this.takeFirstChunk();
      if (early) return [early, ...this.takeSentences()];
    }
    return this.takeSentences();
  }

  /** Every complete word written so far (the last may still be growing). */
  private takeWords(): string[] {
    const end = this.buffer.search(/\s+\S*$/);
    if (end <= 0) return [];
    const words = this.buffer.slice(0, end).trim();
    this.buffer = this.buffer.slice(end).replace(/^\s+/, '');
    return words ? words.split(/\s+/) : [];
  }

  /** The early first chunk, when the strategy allows one and the text has reached it. */
  private takeFirstChunk(): string | undefined {
    const sentenceEnd = this.findBoundary(0);
    if (this.strategy === 'first-clause') {
      const clause = this.buffer.search(/[,;:](?=\s)/);
      const words = this.buffer.match(/\S+\s+/g) ?? [];
      let cut = -1;
      if (clause >= 0) cut = clause + 1;
      if (sentenceEnd >= 0 && (cut < 0 || sentenceEnd < cut)) cut = sentenceEnd;
      if (cut < 0 && words.length >= this.firstChunkWords)
        cut = words.slice(0, this.firstChunkWords).join('').length;
      return cut > 0 ? this.cutAt(cut) : undefined;
    }
    // Whole sentences, but a long first one goes at its first clause boundary of a useful length.
    if (sentenceEnd >= 0) return undefined;
    const re = /[,;:](?=\s)/g;
    for (let m = re.exec(this.buffer); m; m = re.exec(this.buffer)) {
      if (m.index + 1 > this.maxChars) break; // a run-on: the max-length split below takes it
      if (m.index + 1 >= this.firstClauseMinChars) return this.cutAt(m.index + 1);
    }
    return undefined;
  }

  private cutAt(at: number): string | undefined {
    const chunk = this.buffer.slice(0, at).trim();
    this.buffer = this.buffer.slice(at).replace(/^\s+/, '');
    return chunk || undefined;
  }

  private takeSentences(): string[] {
    const out: string[] = [];
    let searchFrom = 0;
    for (;;) {
      const cut = this.findBoundary(searchFrom);
      if (cut < 0) break;
      const sentence = this.buffer.slice(0, cut).trim();
      if (sentence.length < this.minChars) {
        searchFrom = cut;
        continue;
      }
      out.push(sentence);
      this.buffer = this.buffer.slice(cut).replace(/^\s+/, '');
      searchFrom = 0;
    }
    if (this.buffer.length > this.maxChars) {
      const clause = this.buffer.slice(0, this.maxChars).search(/[,;:](?=\s)[^,;:]*$/);
      const at = clause > 0 ? clause + 1 : this.buffer.lastIndexOf(' ', this.maxChars);
      if (at > 0) {
        out.push(this.buffer.slice(0, at).trim());
        this.buffer = this.buffer.slice(at).replace(/^\s+/, '');
      }
    }
    return out;
  }

  /** Whatever is left at the end of the reply. */
  flush(): string | undefined {
    const rest = this.buffer.trim();
    this.buffer = '';
    if (rest) this.emitted++;
    return rest || undefined;
  }

  private findBoundary(from: number): number {
    const re = /(?:[.!?]+|[।॥])["')\]»”]*(?=\s)|\n/g;
    re.lastIndex = from;
    for (let m = re.exec(this.buffer); m; m = re.exec(this.buffer)) {
      const end = m.index + m[0].length;
      if (m[0] !== '\n' && this.abbreviations.test(this.buffer.slice(0, end))) continue;
      return end;
    }
    return -1;
  }
}
