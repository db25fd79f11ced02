/**
 * Embeddings for the docs index: passages are embedded in the background (batches, a timeout per batch, an error
 * reported and retried on the next refresh), kept by text so an unchanged passage is never embedded twice, and
 * ranked by cosine similarity. Shaped like src/cache/embeddings.ts's Embedder, which config/ passes in.
 */
export interface TextEmbedder {
  readonly name: string;
  embed(texts: readonly string[], signal?: AbortSignal): Promise<Float32Array[]>;
}

export interface VectorOptions {
  embedder: TextEmbedder;
  /** Texts per embedding request (default 16). */
  batchSize?: number;
  /** One request longer than this is abandoned (an error; retried on the next refresh). Default 30 s. */
  timeoutMs?: number;
  onError?(error: Error): void;
}

/** Unit length, so that similarity is a dot product. */
export function normalized(vector: Float32Array): Float32Array {
  let sum = 0;
  for (const x of vector) sum += x * x;
  if (sum === 0) return vector;
  const norm = Math.sqrt(sum);
  return vector.map((x) => x / norm);
}

/** Cosine similarity of two unit vectors (0 for vectors of different sizes). */
export function similarity(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
}

export class PassageVectors {
  private readonly byText = new Map<string, Float32Array>();
  private running: Promise<void> | undefined;
  private again = false;
  private readonly closing = new AbortController();
  /** Texts the index holds now (what to embed; what to keep). */
  private wanted: () => Iterable<string> = () => [];

  constructor(private readonly options: VectorOptions) {}

  get name(): string {
    return this.options.embedder.name;
  }

  /** Passages embedded so far. */
  get size(): number {
    return this.byText.size;
  }

  vectorOf(text: string): Float32Array | undefined {
    return this.byText.get(text);
  }

  /** Embeds, in the background, the texts `wanted` gives that have no vector yet; drops the ones it no longer has. */
  update(wanted: () => Iterable<string>): Promise<void> {
    this.wanted = wanted;
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.run().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Resolves when no embedding is under way (tests and the bench wait on it). */
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }

  /** The embedding of a query, unit length; rejects on failure or after `timeoutMs`. */
  async embedQuery(text: string, signal?: AbortSignal): Promise<Float32Array> {
    const [vector] = await this.request([text], signal);
    return vector;
  }

  /** Similarity of each embedded text in `texts` to `query` (unit vectors), best first, at most `limit`. */
  rank<T extends { text: string }>(
    items: Iterable<T>,
    query: Float32Array,
    limit: number,
  ): { item: T; score: number }[] {
    const scored: { item: T; score: number }[] = [];
    for (const item of items) {
      const vector = this.byText.get(item.text);
      if (vector) scored.push({ item, score: similarity(vector, query) });
    }
    return scored.sort((a, b) => b.score - a.score).slice(0, limit);
  }

  close(): void {
    this.closing.abort(new Error('the docs index is closed'));
  }

  private async run(): Promise<void> {
    do {
      this.again = false;
      const keep = new Set(this.wanted());
      for (const text of this.byText.keys()) if (!keep.has(text)) this.byText.delete(text);
      const missing = [...keep].filter((text) => !this.byText.has(text));
      const size = this.options.batchSize ?? 16;
      try {
        for (let i = 0; i < missing.length && !this.closing.signal.aborted; i += size) {
          const batch = missing.slice(i, i + size);
          const vectors = await this.request(batch, this.closing.signal);
          for (const [k, text] of batch.entries()) this.byText.set(text, vectors[k]);
        }
      } catch (error) {
        if (!this.closing.signal.aborted)
          this.options.onError?.(
            new Error(
              `embedding the documents with ${this.name} failed (BM25 only until the next change): ${(error as Error).message}`,
            ),
          );
        return;
      }
    } while (this.again && !this.closing.signal.aborted);
  }

  private async request(texts: readonly string[], signal?: AbortSignal): Promise<Float32Array[]> {
    const timeoutMs = this.options.timeoutMs ?? 30_000;
    const timeout = AbortSignal.timeout(timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    const abandoned = new Promise<never>((_, reject) => {
      const fail = () =>
        reject(timeout.aborted ? new Error(`no answer in ${timeoutMs} ms`) : (combined.reason as Error));
      if (combined.aborted) fail();
      else combined.addEventListener('abort', fail, { once: true });
    });
    abandoned.catch(() => undefined);
    const vectors = await Promise.race([this.options.embedder.embed(texts, combined), abandoned]);
    if (vectors.length !== texts.length || vectors.some((v) => !v?.length))
      throw new Error(`${this.name} answered ${vectors.length} vectors for ${texts.length} texts`);
    return vectors.map(normalized);
  }
}
