import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { DocsError, type DocumentRoot } from './root.ts';

export interface SearchMatch {
  path: string;
  line: number;
  text: string;
}

export interface SearchResult {
  matches: SearchMatch[];
  searched: number;
  /** The documents searched (root-relative paths). */
  paths: string[];
  /** Files that are binary or over the size limit. */
  skipped: number;
  truncated: boolean;
}

const MAX_LINE_CHARS = 200;

/** Plain-text search (no regular expressions: a query can never be made to run away). */
export async function searchDocuments(
  root: DocumentRoot,
  input: string,
  query: string,
  {
    caseSensitive = false,
    maxResults = 50,
    signal,
  }: { caseSensitive?: boolean; maxResults?: number; signal?: AbortSignal } = {},
): Promise<SearchResult> {
  const needle = caseSensitive ? query : query.toLowerCase();
  const result: SearchResult = { matches: [], searched: 0, paths: [], skipped: 0, truncated: false };
  for (const file of await root.files(input)) {
    signal?.throwIfAborted();
    let text: string;
    try {
      ({ text } = await root.readText(file.path));
    } catch (error) {
      if (!(error instanceof DocsError)) throw error;
      result.skipped++;
      continue;
    }
    result.searched++;
    result.paths.push(file.path);
    const lines = text.split(/\r?\n/);
    for (let i = 0; i < lines.length; i++) {
      const haystack = caseSensitive ? lines[i] : lines[i].toLowerCase();
      if (!haystack.includes(needle)) continue;
      if (result.matches.length >= maxResults) {
        result.truncated = true;
        return result;
      }
      result.matches.push({
        path: file.path,
        line: i + 1,
        text: excerpt(lines[i], haystack.indexOf(needle)),
      });
    }
    await yieldToEventLoop();
  }
  return result;
}

function excerpt(line: string, at: number): string {
  const trimmed = line.trim();
  if (trimmed.length <= MAX_LINE_CHARS) return trimmed;
  const start = Math.max(0, at - MAX_LINE_CHARS / 2);
  return `…${line.slice(start, start + MAX_LINE_CHARS).trim()}…`;
}
