import { LRUCache } from 'lru-cache';
import { cosineSimilarity, type Embedder } from './embeddings.ts';
import { digestOf, normalizeQuestion } from './normalize.ts';

/** A curated answer: said as written to any of its questions (exact after normalisation, or similar enough). */
export interface CuratedAnswer {
  questions: readonly string[];
  answer: string;
}

export interface ResponseCacheOptions {
  /** How long a learned reply is served. Default 24 h. */
  ttlMs?: number;
  /** Learned replies kept (least recently used go first). Default 1000. */
  maxEntries?: number;
  /** `auto`: learned replies and curated answers; `allowList`: the curated answers only. */
  mode?: 'auto' | 'allowList';
  allowList?: readonly CuratedAnswer[];
  /** Matches by similarity when set (an exact match needs none). */
  embedder?: Embedder;
  /** Cosine similarity at or above which a question matches. Default 0.92. */
  threshold?: number;
  /** Bound of the embedding call on the turn's path; past it the lookup is a miss. Default 300 ms. */
  embeddingTimeoutMs?: number;
  log?: (line: string) => void;
  /** Wall-clock for the TTL (ms). Default Date.now. */
  now?: () => number;
}

/** What a reply is cached under: a reply made under other instructions, agent version, model or tools never matches. */
export interface ResponseScope {
  instructions: string;
  agentVersion?: string;
  llm?: string | null;
  tools?: readonly string[];
}

export interface ResponseHit {
  text: string;
  via: 'exact' | 'similar' | 'allowList';
  similarity?: number;
  /** Provider time this answer saves (the LLM's first token when it was learned; 0 for a curated one). */
  savedMs: number;
}

interface Entry {
  scope: string;
  question: string;
  answer: string;
  savedMs: number;
  embedding?: Float32Array;
}

export interface ResponseCacheStats {
  hits: number;
  misses: number;
  stored: number;
  invalidated: number;
  embeddingFailures: number;
}

/**
 * Replies already known. Learned replies are keyed by scope (instructions, agent version, model, tools) and the
 * normalised question and expire after `ttlMs`; curated answers (`allowList`) hold in every scope. Lookups are
 * exact after normalisation, then, with an embedder, by cosine similarity at or above `threshold` within the
 * scope. Which turns may use it (no tool, no reference to earlier turns) is the agent's call
 * (src/agent/reply-cache.ts); this class only stores and matches.
 */
export class ResponseCache {
  readonly stats: ResponseCacheStats = {
    hits: 0,
    misses: 0,
    stored: 0,
    invalidated: 0,
    embeddingFailures: 0,
  };
  readonly mode: 'auto' | 'allowList';
  private readonly entries: LRUCache<string, Entry>;
  private readonly curated = new Map<string, string>();
  private curatedEmbeddings: Promise<{ embedding: Float32Array; answer: string }[]> | undefined;
  private readonly threshold: number;
  private readonly timeoutMs: number;
  private readonly log: (line: string) => void;

  constructor(private readonly options: ResponseCacheOptions = {}) {
    this.mode = options.mode ?? 'auto';
    const now = options.now ?? Date.now;
    this.entries = new LRUCache<string, Entry>({
      max: Math.max(1, options.maxEntries ?? 1000),
      ttl: options.ttlMs ?? 24 * 3_600_000,
      ttlAutopurge: false,
      // Checked on every read (the default caches the clock for 1 ms, which an injected clock outruns).
      ttlResolution: 0,
      perf: { now },
    });
    for (const { questions, answer } of options.allowList ?? []) {
      for (const question of questions) this.curated.set(normalizeQuestion(question), answer);
    }
    this.threshold = options.threshold ?? 0.92;
    this.timeoutMs = options.embeddingTimeoutMs ?? 300;
    this.log = options.log ?? ((line) => console.warn(line));
  }

  static scopeKey(scope: ResponseScope): string {
    return digestOf([
      'response',
      1,
      scope.instructions,
      scope.agentVersion ?? '',
      scope.llm ?? '',
      scope.tools ?? [],
    ]);
  }

  get size(): number {
    return this.entries.size;
  }

  /** The answer for `question` in `scope`, or undefined. Never throws: a failed embedding is a miss. */
  async lookup(scope: string, question: string, signal?: AbortSignal): Promise<ResponseHit | undefined> {
    const normalized = normalizeQuestion(question);
    const hit = this.exact(scope, normalized) ?? (await this.similar(scope, normalized, signal));
    if (hit) this.stats.hits++;
    else this.stats.misses++;
    return hit;
  }

  /** Whether `question` has an exact (normalised) match in `scope` or the allow-list; no embedding, no stats. */
  hasExact(scope: string, question: string): boolean {
    return this.exact(scope, normalizeQuestion(question)) !== undefined;
  }

  /** Learns a reply (in `auto` mode; `allowList` mode serves the curated answers only). */
  store(scope: string, question: string, answer: string, savedMs: number): void {
    if (this.mode !== 'auto' || !answer.trim()) return;
    const normalized = normalizeQuestion(question);
    if (!normalized) return;
    const entry: Entry = { scope, question: normalized, answer: answer.trim(), savedMs: Math.round(savedMs) };
    this.entries.set(digestOf([scope, normalized]), entry);
    this.stats.stored++;
    const embedder = this.options.embedder;
    if (embedder) {
      embedder.embed([normalized], AbortSignal.timeout(10_000)).then(
        ([embedding]) => {
          entry.embedding = embedding;
        },
        (error) => this.embeddingFailed(error),
      );
    }
  }

  /** Drops the learned replies of `scope` (all of them without one); returns how many. */
  invalidate(scope?: string): number {
    let dropped = 0;
    for (const [key, entry] of this.entries.entries()) {
      if (scope === undefined || entry.scope === scope) {
        this.entries.delete(key);
        dropped++;
      }
    }
    this.stats.invalidated += dropped;
    return dropped;
  }

  async close(): Promise<void> {
    this.entries.clear();
    await this.options.embedder?.close?.();
  }

  private exact(scope: string, normalized: string): ResponseHit | undefined {
    const curated = this.curated.get(normalized);
    if (curated !== undefined) return { text: curated, via: 'allowList', savedMs: 0 };
    if (this.mode !== 'auto') return undefined;
    const entry = this.entries.get(digestOf([scope, normalized]));
    return entry ? { text: entry.answer, via: 'exact', savedMs: entry.savedMs } : undefined;
  }

  private async similar(
    scope: string,
    normalized: string,
    signal?: AbortSignal,
  ): Promise<ResponseHit | undefined> {
    const embedder = this.options.embedder;
    if (!embedder || !normalized) return undefined;
    const bound = AbortSignal.timeout(this.timeoutMs);
    const embedSignal = signal ? AbortSignal.any([signal, bound]) : bound;
    let query: Float32Array;
    let curated: { embedding: Float32Array; answer: string }[];
    try {
      // Curated questions are embedded once; until they are, a lookup does not wait for them.
      [[query], curated] = await Promise.all([
        embedder.embed([normalized], embedSignal),
        Promise.race([this.curatedVectors(), abortedOf(embedSignal).then(() => [])]),
      ]);
    } catch (error) {
      if (!signal?.aborted) this.embeddingFailed(error);
      return undefined;
    }
    let best: ResponseHit | undefined;
    let bestSimilarity = this.threshold;
    for (const { embedding, answer } of curated) {
      const similarity = cosineSimilarity(query, embedding);
      if (similarity >= bestSimilarity) {
        bestSimilarity = similarity;
        best = { text: answer, via: 'allowList', similarity, savedMs: 0 };
      }
    }
    if (this.mode === 'auto') {
      for (const [key, entry] of this.entries.entries()) {
        if (entry.scope !== scope || !entry.embedding) continue;
        const similarity = cosineSimilarity(query, entry.embedding);
        if (similarity >= bestSimilarity && this.entries.get(key)) {
          bestSimilarity = similarity;
          best = { text: entry.answer, via: 'similar', similarity, savedMs: entry.savedMs };
        }
      }
    }
    return best;
  }

  private curatedVectors(): Promise<{ embedding: Float32Array; answer: string }[]> {
    const embedder = this.options.embedder;
    if (!embedder || this.curated.size === 0) return Promise.resolve([]);
    this.curatedEmbeddings ??= (async () => {
      const questions = [...this.curated.keys()];
      const vectors = await embedder.embed(questions, AbortSignal.timeout(30_000));
      return vectors.map((embedding, i) => ({ embedding, answer: this.curated.get(questions[i]) as string }));
    })();
    this.curatedEmbeddings.catch(() => {
      this.curatedEmbeddings = undefined;
    });
    return this.curatedEmbeddings;
  }

  private embeddingFailed(error: unknown): void {
    this.stats.embeddingFailures++;
    this.log(
      `response cache: embedding failed (${(error as Error).message}); matching exact only for this turn`,
    );
  }
}

function abortedOf(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}
