import { DocsIndex, type ScoredPassage } from '../../search/docs-index.ts';
import type { DocumentSource } from '../../search/sources.ts';
import { DocsError, type DocumentRoot } from './root.ts';
import type { SearchMatch } from './search.ts';

/**
 * The docs index (src/search/: the same chunking, stems and BM25 as retrieval before the LLM call) over a
 * DocumentRoot, for the search tool: documents are read through the root's confinement, so the index sees only
 * what read would return (no link out, no FIFO, nothing over the size limit).
 */
export function rootSource(root: DocumentRoot): DocumentSource {
  return {
    root: root.realRoot,
    async list() {
      // Size only: the root lists no times. Changes of the same size come through the watcher or `touch`.
      return (await root.files('.')).map((f) => ({ path: f.path, size: f.size, stamp: String(f.size) }));
    },
    async read(path) {
      try {
        return (await root.readText(path)).text;
      } catch (error) {
        if (error instanceof DocsError) return undefined;
        throw error;
      }
    },
  };
}

const indexes = new WeakMap<DocumentRoot, Promise<DocsIndex>>();

/** One index per root, opened on first use and shared by every MCP session of the process. */
export function passageIndex(root: DocumentRoot, onError?: (error: Error) => void): Promise<DocsIndex> {
  let index = indexes.get(root);
  if (!index) {
    const docs = new DocsIndex({
      source: rootSource(root),
      maxFileBytes: root.maxFileBytes,
      watch: false, // brought up to date by each search instead
      onError,
    });
    index = docs.open().then(() => docs);
    index.catch(() => indexes.delete(root)); // tried again on the next search
    indexes.set(root, index);
  }
  return index;
}

/** A document was written: its index (if the root has one yet) re-reads it on the next search. */
export function touchPassages(root: DocumentRoot, path: string): void {
  void indexes.get(root)?.then(
    (index) => index.touch(path),
    () => undefined,
  );
}

const EXCERPT_CHARS = 200;

/**
 * Ranked passages of `paths` for `query` that hold none of the exact matches already listed: the passages the
 * words' other forms find ("refunded" finds "refund"). Brought up to date first (re-reads changed documents).
 */
export async function relatedPassages(
  index: DocsIndex,
  query: string,
  paths: ReadonlySet<string>,
  exact: readonly SearchMatch[],
  limit: number,
): Promise<ScoredPassage[]> {
  await index.refresh();
  const covered = (p: ScoredPassage) => {
    const last = p.line + p.text.split('\n').length - 1;
    return exact.some((m) => m.path === p.source && m.line >= p.line && m.line <= last);
  };
  return index
    .search(query, limit + exact.length)
    .filter((p) => paths.has(p.source) && !covered(p))
    .slice(0, limit);
}

/** `path:line (headings): excerpt` of a passage. */
export function passageLine(p: ScoredPassage): string {
  const flat = p.text.replace(/\s+/g, ' ').trim();
  const excerpt = flat.length > EXCERPT_CHARS ? `${flat.slice(0, EXCERPT_CHARS).trimEnd()}…` : flat;
  return `${p.source}:${p.line}:${p.heading ? ` (${p.heading})` : ''} ${excerpt}`;
}
