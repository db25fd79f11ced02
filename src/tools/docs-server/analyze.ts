import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { ToolProgress } from '../tool.ts';
import { DocsError, type DocumentRoot } from './root.ts';

export interface DocumentStats {
  path: string;
  lines: number;
  words: number;
  characters: number;
  sentences: number;
  headings: string[];
  links: number;
}

export interface AnalysisReport {
  documents: DocumentStats[];
  skipped: { path: string; reason: string }[];
  totalWords: number;
  readingMinutes: number;
  topTerms: { term: string; count: number }[];
}

export interface AnalyzeOptions {
  signal?: AbortSignal;
  onProgress?(progress: ToolProgress): void;
  /** Lines per slice of work between progress reports and cancellation checks. */
  linesPerSlice?: number;
  /** Least time between two progress reports (the last one is always sent). */
  progressIntervalMs?: number;
  /** Called after each slice of work (for monitoring). */
  onSlice?(): void;
}

const WORDS_PER_MINUTE = 200;
const STOP_WORDS = new Set(
  (
    'a an and are as at be but by for from has have he her his i in is it its of on or our she that the their ' +
    'them there they this to was we were what when which who will with you your not can do does did so if then ' +
    'than into out up about all also been more no one only other some such very just over any would could should'
  ).split(' '),
);

/**
 * Reads every document under a path and measures it: size, sentences, Markdown outline, links, frequent terms.
 * Works in slices, yielding to the event loop between them, so progress goes out and a cancellation is seen
 * while a large folder is being read.
 */
export async function analyzeDocuments(
  root: DocumentRoot,
  input: string,
  options: AnalyzeOptions = {},
): Promise<AnalysisReport> {
  const { signal, onProgress, onSlice, linesPerSlice = 2000, progressIntervalMs = 100 } = options;
  const files = await root.files(input);
  const totalBytes = files.reduce((sum, f) => sum + f.size, 0);
  const terms = new Map<string, number>();
  const report: AnalysisReport = {
    documents: [],
    skipped: [],
    totalWords: 0,
    readingMinutes: 0,
    topTerms: [],
  };
  let doneBytes = 0;
  let lastReport = Number.NEGATIVE_INFINITY;
  const progress = (message: string, force = false) => {
    const now = performance.now();
    if (!force && now - lastReport < progressIntervalMs) return;
    lastReport = now;
    onProgress?.({ progress: doneBytes, total: totalBytes, message });
  };
  progress(`analyzing ${files.length} document(s)`, true);
  for (const [index, file] of files.entries()) {
    signal?.throwIfAborted();
    let text: string;
    try {
      ({ text } = await root.readText(file.path));
    } catch (error) {
      if (!(error instanceof DocsError)) throw error;
      report.skipped.push({ path: file.path, reason: error.message });
      doneBytes += file.size;
      continue;
    }
    const stats: DocumentStats = {
      path: file.path,
      lines: 0,
      words: 0,
      characters: text.length,
      sentences: 0,
      headings: [],
      links: 0,
    };
    const lines = text.split(/\r?\n/);
    stats.lines = text.endsWith('\n') ? lines.length - 1 : lines.length;
    const bytesBefore = doneBytes;
    for (let start = 0; start < lines.length; start += linesPerSlice) {
      const end = Math.min(lines.length, start + linesPerSlice);
      for (let i = start; i < end; i++) measureLine(lines[i], stats, terms);
      onSlice?.();
      doneBytes = bytesBefore + Math.round((file.size * end) / lines.length);
      progress(`analyzing ${file.path} (${index + 1} of ${files.length})`);
      await yieldToEventLoop();
      signal?.throwIfAborted();
    }
    report.documents.push(stats);
    report.totalWords += stats.words;
  }
  doneBytes = totalBytes;
  progress(`analyzed ${report.documents.length} document(s)`, true);
  report.readingMinutes = Math.round((report.totalWords / WORDS_PER_MINUTE) * 10) / 10;
  report.topTerms = [...terms.entries()]
    .sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0]))
    .slice(0, 15)
    .map(([term, count]) => ({ term, count }));
  return report;
}

function measureLine(line: string, stats: DocumentStats, terms: Map<string, number>): void {
  const heading = /^(#{1,6})\s+(.+?)\s*#*\s*$/.exec(line);
  if (heading) stats.headings.push(`${'  '.repeat(heading[1].length - 1)}${heading[2]}`);
  stats.links += (line.match(/\]\([^)]+\)|https?:\/\/\S+/g) ?? []).length;
  stats.sentences += (line.match(/[^.!?\s][^.!?]*[.!?]+(?=\s|$)/g) ?? []).length;
  for (const word of line.toLowerCase().match(/[\p{L}\p{N}][\p{L}\p{N}'-]*/gu) ?? []) {
    stats.words++;
    if (word.length < 3 || STOP_WORDS.has(word) || /^\d+$/.test(word)) continue;
    terms.set(word, (terms.get(word) ?? 0) + 1);
  }
}

/** The report as short text an LLM can read aloud from. */
export function formatReport(report: AnalysisReport, maxDocuments = 50): string {
  const lines = [
    `${report.documents.length} document(s), ${report.totalWords} words, about ${report.readingMinutes} minutes of reading.`,
  ];
  if (report.topTerms.length) {
    lines.push(`Frequent terms: ${report.topTerms.map((t) => `${t.term} (${t.count})`).join(', ')}.`);
  }
  for (const doc of report.documents.slice(0, maxDocuments)) {
    lines.push(
      `- ${doc.path}: ${doc.lines} lines, ${doc.words} words, ${doc.sentences} sentences, ${doc.links} links` +
        (doc.headings.length ? `; outline:\n${doc.headings.map((h) => `    ${h}`).join('\n')}` : ''),
    );
  }
  if (report.documents.length > maxDocuments) {
    lines.push(`(${report.documents.length - maxDocuments} more documents not listed)`);
  }
  for (const skip of report.skipped) lines.push(`Skipped ${skip.path}: ${skip.reason}`);
  return lines.join('\n');
}
