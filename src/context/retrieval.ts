import { type FSWatcher, watch } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join, relative, sep } from 'node:path';
import MiniSearch from 'minisearch';
import type { TokenCounter } from '../providers/llm/contract.ts';
import { searchTerm, tokenize } from './relevance-text.ts';

/** One chunk of a document: a paragraph (or a run of short ones) under its headings. */
export interface Passage {
  /** Path relative to the docs folder, with forward slashes. */
  source: string;
  /** The headings above the passage, outermost first, joined with " › " (empty before the first heading). */
  heading: string;
  text: string;
  /** 1-based line of the passage's first line. */
  line: number;
}

export interface ScoredPassage extends Passage {
  score: number;
}

export interface DocsIndexOptions {
  /** The docs folder (the docs server's `docsRoot`). */
  root: string;
  /** File name endings indexed; default Markdown and plain text. */
  extensions?: readonly string[];
  /** Larger files are skipped (and counted in `skippedFiles`). Default 2 MB. */
  maxFileBytes?: number;
  /** Paragraphs shorter than this many characters are merged with the next one of the same section. */
  minPassageChars?: number;
  /** Changes are read this long after the last file event (an editor writes a file in several steps). */
  debounceMs?: number;
  /** Weight of a passage's headings against its text in the ranking (default 1.5). */
  headingBoost?: number;
  /** Query terms also match longer indexed terms that start with them ("visit" finds "visitor"). Default on. */
  prefix?: boolean;
  onError?(error: Error): void;
}

interface Doc extends Passage {
  id: string;
}

const DEFAULTS = {
  extensions: ['.md', '.markdown', '.txt'],
  maxFileBytes: 2_000_000,
  minPassageChars: 200,
  headingBoost: 1.5,
  prefix: true,
};

/** Splits a document into passages at headings (Markdown `#` or setext underlines) and blank lines. */
export function chunkDocument(source: string, text: string, minChars = DEFAULTS.minPassageChars): Passage[] {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  const headings: string[] = [];
  const passages: Passage[] = [];
  let buffer: string[] = [];
  let startLine = 0;
  const flush = (force: boolean) => {
    const body = buffer.join('\n').trim();
    if (body && (force || body.length >= minChars)) {
      passages.push({ source, heading: headings.join(' › '), text: body, line: startLine });
      buffer = [];
    } else if (!body) buffer = [];
  };
  let fence = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (/^\s*(```|~~~)/.test(line)) fence = !fence;
    const atx = fence ? null : /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    const setext = !fence && i + 1 < lines.length && line.trim() && /^(=+|-+)\s*$/.test(lines[i + 1]);
    if (atx || setext) {
      flush(true);
      const level = atx ? atx[1].length : lines[i + 1].startsWith('=') ? 1 : 2;
      headings.length = level - 1;
      headings[level - 1] = atx ? atx[2] : line.trim();
      for (let k = 0; k < level - 1; k++) headings[k] ??= '';
      if (setext) i++;
      continue;
    }
    if (!line.trim() && !fence) {
      flush(false);
      continue;
    }
    if (buffer.length === 0 || !buffer.join('').trim()) startLine = i + 1;
    if (buffer.length && !lines[i - 1]?.trim()) buffer.push('');
    buffer.push(line);
  }
  flush(true);
  return passages;
}

/**
 * BM25 retrieval over a docs folder (MiniSearch, Porter stems): documents are chunked by headings and paragraphs;
 * a file watcher keeps the index fresh (a changed file is re-read and only its passages replaced). Searching is
 * synchronous and in memory, so it can run right before an LLM call. One per docs folder, shared by sessions.
 */
export class DocsIndex {
  private readonly options: Required<Omit<DocsIndexOptions, 'onError'>> & Pick<DocsIndexOptions, 'onError'>;
  private readonly index: MiniSearch<Doc>;
  private readonly files = new Map<string, { mtimeMs: number; size: number; ids: string[] }>();
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly dirty = new Set<string>();
  private refreshing: Promise<void> = Promise.resolve();
  skippedFiles = 0;

  constructor(options: DocsIndexOptions) {
    this.options = { ...DEFAULTS, debounceMs: 100, ...options };
    this.index = new MiniSearch<Doc>({
      fields: ['heading', 'text', 'source'],
      storeFields: ['source', 'heading', 'text', 'line'],
      tokenize,
      processTerm: searchTerm,
      searchOptions: {
        tokenize,
        processTerm: searchTerm,
        boost: { heading: this.options.headingBoost, source: 0.5 },
        // A prefix match counts for less than a whole-term match (MiniSearch's weights).
        prefix: (term) => this.options.prefix && term.length >= 4,
      },
    });
  }

  /** Indexes the folder and starts watching it. Rejects when the folder cannot be read. */
  async open(): Promise<void> {
    await stat(this.options.root);
    await this.refresh();
    try {
      this.watcher = watch(this.options.root, { recursive: true }, (_event, name) => {
        if (name) this.dirty.add(String(name));
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

  /** Re-reads files added, changed or removed since the last look (the watcher calls it; callable any time). */
  refresh(): Promise<void> {
    this.refreshing = this.refreshing
      .then(() => this.rescan())
      .catch((error: unknown) => {
        this.options.onError?.(error instanceof Error ? error : new Error(String(error)));
      });
    return this.refreshing;
  }

  /** The passages that best match `query`, best first. */
  search(query: string, limit = 5): ScoredPassage[] {
    if (!query.trim()) return [];
    return this.index
      .search(query)
      .slice(0, limit)
      .map((hit) => ({
        source: hit.source as string,
        heading: hit.heading as string,
        text: hit.text as string,
        line: hit.line as number,
        score: hit.score,
      }));
  }

  close(): void {
    clearTimeout(this.timer);
    this.watcher?.close();
    this.watcher = undefined;
  }

  private async rescan(): Promise<void> {
    const seen = new Set<string>();
    this.skippedFiles = 0;
    for (const path of await this.walk(this.options.root)) {
      const source = relative(this.options.root, path).split(sep).join('/');
      seen.add(source);
      let info: Awaited<ReturnType<typeof stat>>;
      try {
        info = await stat(path);
      } catch {
        continue; // removed while we looked
      }
      if (info.size > this.options.maxFileBytes) {
        this.skippedFiles++;
        this.remove(source);
        continue;
      }
      const known = this.files.get(source);
      const touched = this.dirty.has(source);
      if (known && !touched && known.mtimeMs === info.mtimeMs && known.size === info.size) continue;
      const text = await readFile(path, 'utf8').catch(() => undefined);
      if (text === undefined || text.includes('\u0000')) {
        this.skippedFiles++;
        this.remove(source);
        continue;
      }
      this.remove(source);
      const ids: string[] = [];
      chunkDocument(source, text, this.options.minPassageChars).forEach((p, i) => {
        const id = `${source}#${i}`;
        this.index.add({ id, ...p });
        ids.push(id);
      });
      this.files.set(source, { mtimeMs: info.mtimeMs, size: info.size, ids });
    }
    this.dirty.clear();
    for (const source of [...this.files.keys()]) if (!seen.has(source)) this.remove(source);
  }

  private remove(source: string): void {
    const known = this.files.get(source);
    if (!known) return;
    for (const id of known.ids) this.index.discard(id);
    this.files.delete(source);
  }

  private async walk(dir: string): Promise<string[]> {
    const out: string[] = [];
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) out.push(...(await this.walk(path)));
      else if (entry.isFile() && this.options.extensions.includes(extname(entry.name).toLowerCase()))
        out.push(path);
    }
    return out;
  }
}

export const PASSAGES_HEADING =
  "From the user's documents (use them if they answer the question, and name the document you used):";

/** The passages as a prompt block, as many (best first) as fit in `maxTokens`; undefined when none fits. */
export function passagesBlock(
  passages: readonly Passage[],
  maxTokens: number,
  counter: TokenCounter,
): { text: string; tokens: number; used: number } | undefined {
  let text = PASSAGES_HEADING;
  let tokens = counter.countTokens(text);
  let used = 0;
  for (const p of passages) {
    const where = p.heading ? `${p.source} › ${p.heading}` : p.source;
    const entry = `\n[${used + 1}] (source: ${where})\n${p.text}`;
    const size = counter.countTokens(entry);
    if (tokens + size > maxTokens) continue;
    text += entry;
    tokens += size;
    used++;
  }
  return used ? { text, tokens, used } : undefined;
}
