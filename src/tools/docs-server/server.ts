import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { type AnalysisReport, type AnalyzeOptions, analyzeDocuments, formatReport } from './analyze.ts';
import { unifiedDiff } from './diff.ts';
import { DocsError, type DocumentRoot } from './root.ts';
import { searchDocuments } from './search.ts';

export const DOCS_SERVER_NAME = 'repartee-docs';
export const DOCS_SERVER_VERSION = '0.1.0';

const pathArg = z.string().max(4096).describe('Path relative to the document root, with / separators');
const readOnly = { readOnlyHint: true, openWorldHint: false } as const;

const text = (value: string): CallToolResult => ({ content: [{ type: 'text', text: value }] });

export interface DocsServerOptions {
  /** Tuning and monitoring of the analyze tool. */
  analyze?: Pick<AnalyzeOptions, 'linesPerSlice' | 'progressIntervalMs' | 'onSlice'> & {
    /** An analyze request began; the signal aborts when the client cancels it. */
    onStart?(signal: AbortSignal): void;
    /** An analyze request ended: finished, cancelled by the client, or failed. */
    onSettled?(outcome: 'done' | 'cancelled' | 'failed'): void;
  };
}

/**
 * The repartee-docs MCP server: list, read, search, edit, compare and analyze text and Markdown documents under
 * one root folder. A refused or failed request answers as a tool error (isError) and the server carries on.
 */
export function createDocsServer(root: DocumentRoot, options: DocsServerOptions = {}): McpServer {
  const { onStart, onSettled, ...analyzeTuning } = options.analyze ?? {};
  const server = new McpServer(
    { name: DOCS_SERVER_NAME, version: DOCS_SERVER_VERSION },
    {
      instructions:
        'Documents (plain text and Markdown) under one folder. Paths are relative to that folder; nothing ' +
        'outside it can be read or written. Edits keep the previous version as <name>.bak.',
    },
  );

  server.registerTool(
    'list',
    {
      description: 'List the documents and folders in a folder of the document root.',
      inputSchema: { path: pathArg.default('.'), recursive: z.boolean().default(false) },
      annotations: readOnly,
    },
    async ({ path, recursive }) => {
      const { entries, truncated } = await root.list(path, { recursive });
      if (entries.length === 0) return text(`${path} is empty`);
      const lines = entries.map((e) =>
        e.type === 'directory' ? `${e.path}/` : `${e.path} (${e.size} bytes)`,
      );
      if (truncated) lines.push(`(list truncated at ${entries.length} entries)`);
      return text(lines.join('\n'));
    },
  );

  server.registerTool(
    'read',
    {
      description: 'Read a text or Markdown document, optionally only lines startLine..endLine (1-based).',
      inputSchema: {
        path: pathArg,
        startLine: z.number().int().min(1).optional(),
        endLine: z.number().int().min(1).optional(),
      },
      annotations: readOnly,
    },
    async ({ path, startLine, endLine }) => {
      const document = await root.readText(path);
      if (startLine === undefined && endLine === undefined) return text(document.text);
      const lines = document.text.split(/\r?\n/);
      const from = (startLine ?? 1) - 1;
      const to = Math.min(lines.length, endLine ?? lines.length);
      if (from >= to) throw new DocsError('invalid', `lines ${from + 1}..${to} are not in ${document.path}`);
      return text(lines.slice(from, to).join('\n'));
    },
  );

  server.registerTool(
    'search',
    {
      description:
        'Search the documents for a word or phrase (case-insensitive unless caseSensitive); returns path:line: text.',
      inputSchema: {
        query: z.string().min(1).max(200),
        path: pathArg.default('.'),
        caseSensitive: z.boolean().default(false),
        maxResults: z.number().int().min(1).max(200).default(50),
      },
      annotations: readOnly,
    },
    async ({ query, path, caseSensitive, maxResults }, extra) => {
      const found = await searchDocuments(root, path, query, {
        caseSensitive,
        maxResults,
        signal: extra.signal,
      });
      const lines = found.matches.map((m) => `${m.path}:${m.line}: ${m.text}`);
      if (lines.length === 0) lines.push(`No matches for "${query}" in ${found.searched} document(s).`);
      if (found.truncated) lines.push(`(stopped after ${maxResults} matches)`);
      if (found.skipped > 0) lines.push(`(${found.skipped} file(s) skipped: binary or too large)`);
      return text(lines.join('\n'));
    },
  );

  server.registerTool(
    'edit',
    {
      description:
        'Change a document: either replace exact text (each oldText must occur exactly once), or give the whole ' +
        'new content (which also creates a new document). Atomic; the previous version is kept as <name>.bak.',
      inputSchema: {
        path: pathArg,
        edits: z
          .array(z.object({ oldText: z.string().min(1), newText: z.string() }))
          .min(1)
          .max(50)
          .optional(),
        content: z.string().optional(),
      },
      annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
    },
    async ({ path, edits, content }) => {
      if ((edits === undefined) === (content === undefined)) {
        throw new DocsError('invalid', 'give either edits or content, not both and not neither');
      }
      let previous = '';
      let next = content ?? '';
      if (edits) {
        ({ text: previous } = await root.readText(path));
        next = previous;
        for (const [i, { oldText, newText }] of edits.entries()) {
          const at = next.indexOf(oldText);
          if (at < 0) throw new DocsError('invalid', `edit ${i + 1}: oldText was not found in ${path}`);
          if (next.indexOf(oldText, at + 1) >= 0) {
            throw new DocsError(
              'invalid',
              `edit ${i + 1}: oldText occurs more than once in ${path}; add context`,
            );
          }
          next = next.slice(0, at) + newText + next.slice(at + oldText.length);
        }
      } else {
        previous = await root.readText(path).then(
          (d) => d.text,
          (error) => {
            if (error instanceof DocsError && error.code === 'not_found') return '';
            throw error;
          },
        );
      }
      const written = await root.writeText(path, next);
      const diff = unifiedDiff(written.path, previous, written.path, next) ?? '(too many changes to show)';
      const summary = written.created
        ? `Created ${written.path}.`
        : `Updated ${written.path}; the previous version is in ${written.backup}.`;
      return text(diff ? `${summary}\n${diff}` : `${summary} (no change in content)`);
    },
  );

  server.registerTool(
    'compare',
    {
      description: 'Compare two documents line by line (unified diff).',
      inputSchema: { a: pathArg, b: pathArg, context: z.number().int().min(0).max(20).default(3) },
      annotations: readOnly,
    },
    async ({ a, b, context }) => {
      const [left, right] = await Promise.all([root.readText(a), root.readText(b)]);
      const diff = unifiedDiff(left.path, left.text, right.path, right.text, context);
      if (diff === undefined) return text(`${left.path} and ${right.path} differ in too many lines to show.`);
      return text(diff || `${left.path} and ${right.path} are identical.`);
    },
  );

  server.registerTool(
    'analyze',
    {
      description:
        'Analyze a document or every document in a folder: size, sentences, Markdown outline, links and frequent ' +
        'terms. May take a while on large folders; reports progress.',
      inputSchema: { path: pathArg.default('.') },
      annotations: readOnly,
    },
    async ({ path }, extra) => {
      const progressToken = extra._meta?.progressToken;
      onStart?.(extra.signal);
      let report: AnalysisReport;
      try {
        report = await analyzeDocuments(root, path, {
          ...analyzeTuning,
          signal: extra.signal,
          onProgress: (progress) => {
            if (progressToken === undefined) return;
            extra
              .sendNotification({ method: 'notifications/progress', params: { progressToken, ...progress } })
              .catch(() => undefined);
          },
        });
      } catch (error) {
        onSettled?.(extra.signal.aborted ? 'cancelled' : 'failed');
        throw error;
      }
      onSettled?.('done');
      return text(formatReport(report));
    },
  );

  return server;
}
