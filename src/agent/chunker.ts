export interface SentenceChunkerOptions {
  /** Shorter sentences wait to be joined with the next, so TTS is not fed "Hi." alone... unless the reply ends. */
  minSentenceChars?: number;
  /** Past this, a sentence is split at a clause boundary so the first audio is not held back by run-ons. */
  maxSentenceChars?: number;
}

const ABBREVIATIONS = /\b(?:mr|mrs|ms|dr|prof|sr|jr|st|vs|etc|e\.g|i\.e|no|approx)\.$/i;

/**
 * Cuts streamed LLM text into sentences for TTS. A sentence ends at . ! ? or a newline followed by whitespace,
 * so "3.5" and "e.g. this" are not split.
 */
export class SentenceChunker {
  private buffer = '';
  private readonly minChars: number;
  private readonly maxChars: number;

  constructor(options: SentenceChunkerOptions = {}) {
    this.minChars = options.minSentenceChars ?? 12;
    this.maxChars = options.maxSentenceChars ?? 250;
  }

  /** Adds text; returns the sentences it completed. */
  push(delta: string): string[] {
    this.buffer += delta;
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
    return rest || undefined;
  }

  private findBoundary(from: number): number {
    const re = /[.!?]+["')\]]*(?=\s)|\n/g;
    re.lastIndex = from;
    for (let m = re.exec(this.buffer); m; m = re.exec(this.buffer)) {
      const end = m.index + m[0].length;
      if (m[0] !== '\n' && ABBREVIATIONS.test(this.buffer.slice(0, end))) continue;
      return end;
    }
    return -1;
  }
}
