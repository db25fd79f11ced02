import { type FSWatcher, watch } from 'node:fs';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import MiniSearch from 'minisearch';
import { chunkDocument, MIN_PASSAGE_CHARS, type Passage } from './chunk.ts';
import { type DocumentSource, fileSystemSource } from './sources.ts';
import { searchTerm, tokenize } from './terms.ts';
import { PassageVectors, type TextEmbedder } from './vectors.ts';

export type { Passage } from './chunk.ts';

export interface ScoredPassage extends Passage {
  score: number;
}

export interface DocsIndexOptions {
  /** The docs folder, read from the file system (or give `source`). */
  root?: string;
  /** Where documents are read from (the docs server passes its confined DocumentRoot); default the file system. */
  source?: DocumentSource;
  /** File name endings indexed from `root`; default Markdown and plain text. */
  extensions?: readonly string[];
  /** Larger files are skipped (and counted in `skippedFiles`). Default 2 MB. */
  maxFileBytes?: number;
  /** Paragraphs shorter than this many characters are merged with the next one of the same section. */
  minPassageChars?: number;
  /** Watch the folder and re-read changes by itself (default); off, changes are read when `refresh` is called. */
  watch?: boolean;
  /** Changes are read this long after the last file event (an editor writes a file in several steps). */
  debounceMs?: number;
  /** Weight of a passage's headings against its text in the ranking (default 1.5). */
  headingBoost?: number;
  /** Query terms also match longer indexed terms that start with them ("visit" finds "visitor"). Default on. */
  prefix?: boolean;
  /** Embeds the passages in the background; searches given a query vector then combine BM25 with similarity. */
  embedder?: TextEmbedder;
  /** An embedding request longer than this is abandoned (default 30 s). */
  embedTimeoutMs?: number;
  onError?(error: Error): void;
}

export interface SearchOptions {
  /** The query's embedding (from `embedQuery`): with it, BM25 and embedding similarity are fused. */
  queryVector?: Float32Array;
  /** Only passages of sources under this folder (relative, no leading slash; '' or '.' for all). */
  under?: string;
}

interface Doc extends Passage {
  id: string;
}

/** Reciprocal rank fusion constant (Cormack et al.): a rank's weight is 1 / (k + rank). */
const RRF_K = 60;
/** Passages taken from the embedding ranking into the fusion. */
const VECTOR_CANDIDATES = 20;

/**
 * The docs index (BM25 through MiniSearch with Porter stems; optional embeddings): documents chunked by headings
 * and paragraphs, kept fresh by a file watcher (a changed file is re-read and only its passages replaced).
 * Searching is synchronous and in memory, so it can run right before an LLM call. One per docs folder, shared by
 * the sessions' retrieval (src/context/retrieval.ts) and the docs server's search tool.
 */
export class DocsIndex {
  private readonly options: DocsIndexOptions & { debounceMs: number; maxFileBytes: number; prefix: boolean };
  private readonly source: DocumentSource;
  private readonly index: MiniSearch<Doc>;
  private readonly docs = new Map<string, Doc>();
  private readonly files = new Map<string, { stamp: string; ids: string[] }>();
  private readonly vectors: PassageVectors | undefined;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly dirty = new Set<string>();
  private refreshing: Promise<void> = Promise.resolve();
  /** Bumped whenever passages change: a cached embedding ranking of an older version is stale. */
  private version = 0;
  /** The embedding ranking over all passages per query vector (computed once: it scans every vector). */
  private readonly semanticCache = new WeakMap<Float32Array, { version: number; ranking: Doc[] }>();
  skippedFiles = 0;

  constructor(options: DocsIndexOptions) {
    this.options = { debounceMs: 100, maxFileBytes: 2_000_000, prefix: true, ...options };
    if (options.source) this.source = options.source;
    else if (options.root) this.source = fileSystemSource(options.root, options.extensions);
    else throw new Error('DocsIndex needs a root folder or a source');
    this.index = new MiniSearch<Doc>({
      fields: ['heading', 'text', 'source'],
      storeFields: [],
      tokenize,
      processTerm: searchTerm,
      searchOptions: {
        tokenize,
        processTerm: searchTerm,
        boost: { heading: options.headingBoost ?? 1.5, source: 0.5 },
        // A prefix match counts for less than a whole-term match (MiniSearch's weights).
        prefix: (term) => this.options.prefix && term.length >= 4,
      },
    });
    if (options.embedder)
      this.vectors = new PassageVectors({
        embedder: options.embedder,
        timeoutMs: options.embedTimeoutMs,
        onError: (error) => options.onError?.(error),
      });
  }

  /** Indexes the folder and starts watching it. Rejects when the folder cannot be read. */
  async open(): Promise<void> {
    await this.source.list();
    await this.refresh();
    if (this.options.watch === false) return;
    try {
      this.watcher = watch(this.source.root, { recursive: true }, (_event, name) => {
        if (name) this.dirty.add(String(name).split('\\').join('/'));
        clearTimeout(this.timer);
        this.timer = setTimeout(() => void this.refresh(), this.options.debounceMs);
        this.timer.unref();
      });
      this.watcher.on('error', (error) => this.options.onError?.(error));
      this.watcher.unref(); // the index serves sessions; it never keeps a process alive by itself
    } catch (error) {
      this.options.onError?.(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** Passages indexed now. */
  get size(): number {
    return this.index.documentCount;
  }

  /** The embedder of the passages, if any (the user's turns must be embedded with the same one). */
  get embedder(): TextEmbedder | undefined {
    return this.options.embedder;
  }

  /** Passages with an embedding now (0 without an embedder). */
  get embeddedPassages(): number {
    return this.vectors?.size ?? 0;
  }

  /** Re-reads files added, changed or removed since the last look (the watcher calls it; callable any time). */
  refresh(): Promise<void> {
    this.refreshing = this.refreshing
      .then(() => this.rescan())
      .catch((error: unknown) => {
        this.options.onError?.(error instanceof Error ? error : new Error(String(error)));
      });
    return this.refreshing;
  }

  /** A file changed (e.g. written by the docs server's edit tool): re-read it on the next refresh. */
  touch(path: string): void {
    this.dirty.add(path);
  }

  /** Resolves when the passages indexed so far are embedded (or embedding gave up); at once without an embedder. */
  async embedded(): Promise<void> {
    await this.refreshing;
    await this.vectors?.settled();
  }

  /** The query's embedding for `search`; undefined without an embedder. Rejects when the embedder fails. */
  async embedQuery(text: string, signal?: AbortSignal): Promise<Float32Array | undefined> {
    return this.vectors?.embedQuery(text, signal);
  }

  /** The passages that best match `query`, best first (BM25, fused with embedding similarity given a vector). */
  search(query: string, limit = 5, options: SearchOptions = {}): ScoredPassage[] {
    if (!query.trim()) return [];
    const under = options.under?.replace(/^\.?\/?/, '').replace(/\/+$/, '');
    const inside = under
      ? (doc: Doc) => doc.source === under || doc.source.startsWith(`${under}/`)
      : () => true;
    const lexical: { doc: Doc; score: number }[] = [];
    for (const hit of this.index.search(query)) {
      const doc = this.docs.get(hit.id as string);
      if (doc && inside(doc)) lexical.push({ doc, score: hit.score });
    }
    const { queryVector } = options;
    if (!queryVector || !this.vectors?.size)
      return lexical.slice(0, limit).map(({ doc, score }) => scored(doc, score));
    const semantic = under
      ? this.vectors
          .rank([...this.docs.values()].filter(inside), queryVector, VECTOR_CANDIDATES)
          .map((r) => r.item)
      : this.semanticRanking(queryVector);
    const fused = new Map<Doc, number>();
    const add = (doc: Doc, rank: number) => {
      fused.set(doc, (fused.get(doc) ?? 0) + 1 / (RRF_K + rank + 1));
    };
    lexical.forEach(({ doc }, rank) => {
      add(doc, rank);
    });
    semantic.forEach((doc, rank) => {
      add(doc, rank);
    });
    return [...fused]
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([doc, score]) => scored(doc, score));
  }

  /**
   * Ranks the passages by similarity to `queryVector` now and keeps the result for `search`: scanning every vector
   * costs time proportional to the folder, so it is done as soon as the user turn's embedding arrives, not in the
   * prompt build.
   */
  warm(queryVector: Float32Array): void {
    if (this.vectors?.size) this.semanticRanking(queryVector);
  }

  private semanticRanking(queryVector: Float32Array): Doc[] {
    const cached = this.semanticCache.get(queryVector);
    if (cached && cached.version === this.version) return cached.ranking;
    const ranking = (this.vectors?.rank(this.docs.values(), queryVector, VECTOR_CANDIDATES) ?? []).map(
      (r) => r.item,
    );
    this.semanticCache.set(queryVector, { version: this.version, ranking });
    return ranking;
  }

  close(): void {
    clearTimeout(this.timer);
    this.watcher?.close();
    this.watcher = undefined;
    this.vectors?.close();
  }

  private async rescan(): Promise<void> {
    const seen = new Set<string>();
    let skipped = 0;
    for (const entry of await this.source.list()) {
      const source = entry.path;
      seen.add(source);
      if (entry.size > this.options.maxFileBytes) {
        skipped++;
        this.remove(source);
        continue;
      }
      const known = this.files.get(source);
      if (known && !this.dirty.has(source) && known.stamp === entry.stamp) continue;
      this.dirty.delete(source);
      const text = await this.source.read(source);
      this.remove(source);
      if (text === undefined) {
        skipped++;
        continue;
      }
      const ids: string[] = [];
      this.files.set(source, { stamp: entry.stamp, ids });
      const passages = chunkDocument(source, text, this.options.minPassageChars ?? MIN_PASSAGE_CHARS);
      for (const [i, p] of passages.entries()) {
        const doc = { id: `${source}#${i}`, ...p };
        this.index.add(doc);
        this.docs.set(doc.id, doc);
        ids.push(doc.id);
        // A large folder is indexed in slices: the sessions sharing this thread go on meanwhile.
        if (i % 100 === 99) await yieldToEventLoop();
      }
      await yieldToEventLoop();
    }
    this.skippedFiles = skipped;
    // Names that are not documents (folders, backups); a document's event during the scan waits for the next one.
    for (const name of [...this.dirty]) if (!seen.has(name)) this.dirty.delete(name);
    for (const source of [...this.files.keys()]) if (!seen.has(source)) this.remove(source);
    this.version++;
    void this.vectors
      ?.update(() => [...this.docs.values()].map((d) => d.text))
      .then(() => {
        this.version++; // new vectors: rankings made before them are stale
      });
  }

  private remove(source: string): void {
    const known = this.files.get(source);
    if (!known) return;
    for (const id of known.ids) {
      this.index.discard(id);
      this.docs.delete(id);
    }
    this.files.delete(source);
  }
}

function scored(doc: Doc, score: number): ScoredPassage {
  return { source: doc.source, heading: doc.heading, text: doc.text, line: doc.line, score };
}
