import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { type AnalysisReport, type AnalyzeOptions, analyzeDocuments, formatReport } from './analyze.ts';
import { unifiedDiff } from './diff.ts';
import { clientLog } from './logging.ts';
import { passageIndex, passageLine, relatedPassages, touchPassages } from './passages.ts';
import { registerDocumentPrompts } from './prompts.ts';
import { registerDocumentResources } from './resources.ts';
import { DocsError, type DocumentRoot } from './root.ts';
import { searchDocuments } from './search.ts';
import { normaliseVersion } from './versions.ts';

export const DOCS_SERVER_NAME = 'repartee-docs';
export const DOCS_SERVER_VERSION = '0.1.0';

const pathArg = z.string().max(4096).describe('Path relative to the document root, with / separators');
const readOnly = { readOnlyHint: true, openWorldHint: false } as const;

const text = (value: string): CallToolResult => ({ content: [{ type: 'text', text: value }] });
const versionArg = z
  .string()
  .max(64)
  .describe('The version read or list returned for this document (the text this change is based on)');

/**
 * Tool errors reach the model verbatim. Our refusals (DocsError) are written for it; anything else is reported
 * by kind only, so no absolute path or library message leaves the server.
 */
function safely<A extends unknown[]>(handler: (...args: A) => Promise<CallToolResult>) {
  return async (...args: A): Promise<CallToolResult> => {
    try {
      return await handler(...args);
    } catch (error) {
      if (error instanceof DocsError) throw error;
      if ((error as { name?: string }).name === 'AbortError') throw error;
      throw new DocsError('io', 'the request failed inside the documents server; try again');
    }
  };
}

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
        'outside it can be read or written. read and list give each document a version; edit needs the version ' +
        'its change is based on and refuses with a conflict if the document changed since (then read it again ' +
        'and redo the change). Edits keep the replaced version as <name>.bak. Each document is also a resource ' +
        'docs:///<path> (subscribe to hear of changes); prompts summarize, proofread, revise and compare.',
      capabilities: { logging: {} },
    },
  );
  const log = clientLog(server);
  const stopWatching = registerDocumentResources(server, root, log);
  registerDocumentPrompts(server, root);
  const closed = server.server.onclose;
  server.server.onclose = () => {
    stopWatching();
    closed?.();
  };

  server.registerTool(
    'list',
    {
      description:
        "List the documents and folders in a folder of the document root, with each document's size and version.",
      inputSchema: { path: pathArg.default('.'), recursive: z.boolean().default(false) },
      annotations: readOnly,
    },
    safely(async ({ path, recursive }) => {
      const { entries, truncated } = await root.list(path, { recursive, versions: true });
      if (entries.length === 0) return text(`${path} is empty`);
      const lines = entries.map((e) =>
        e.type === 'directory'
          ? `${e.path}/`
          : `${e.path} (${e.size} bytes${e.version ? `, version ${e.version}` : ''})`,
      );
      if (truncated) lines.push(`(list truncated at ${entries.length} entries)`);
      return text(lines.join('\n'));
    }),
  );

  server.registerTool(
    'read',
    {
      description:
        'Read a text or Markdown document, optionally only lines startLine..endLine (1-based). The answer ends ' +
        "with the document's version: pass it as baseVersion to edit.",
      inputSchema: {
        path: pathArg,
        startLine: z.number().int().min(1).optional(),
        endLine: z.number().int().min(1).optional(),
      },
      annotations: readOnly,
    },
    safely(async ({ path, startLine, endLine }) => {
      const document = await root.readText(path);
      let body = document.text;
      if (startLine !== undefined || endLine !== undefined) {
        const lines = document.text.split(/\r?\n/);
        const from = (startLine ?? 1) - 1;
        const to = Math.min(lines.length, endLine ?? lines.length);
        if (from >= to)
          throw new DocsError('invalid', `lines ${from + 1}..${to} are not in ${document.path}`);
        body = lines.slice(from, to).join('\n');
      }
      // A separate part, so the document text itself stays exactly as stored.
      return {
        content: [
          { type: 'text', text: body },
          { type: 'text', text: versionNote(document.path, document.version) },
        ],
      };
    }),
  );

  server.registerTool(
    'search',
    {
      description:
        'Search the documents for a word or phrase (case-insensitive unless caseSensitive); returns path:line: text ' +
        'for each line holding it, then the passages that match other forms of its words (ranked by the docs ' +
        'index: "refunded" finds "refund"), as path:line: (headings) excerpt.',
      inputSchema: {
        query: z.string().min(1).max(200),
        path: pathArg.default('.'),
        caseSensitive: z.boolean().default(false),
        maxResults: z.number().int().min(1).max(200).default(50),
      },
      annotations: readOnly,
    },
    safely(async ({ query, path, caseSensitive, maxResults }, extra) => {
      const found = await searchDocuments(root, path, query, {
        caseSensitive,
        maxResults,
        signal: extra.signal,
      });
      const lines = found.matches.map((m) => `${m.path}:${m.line}: ${m.text}`);
      // A case-sensitive search asks for the exact text only.
      const room = caseSensitive || found.truncated ? 0 : Math.min(5, maxResults - found.matches.length);
      const related =
        room > 0
          ? await relatedPassages(
              await passageIndex(root, (error) => log('warning', `docs index: ${error.message}`)),
              query,
              new Set(found.paths),
              found.matches,
              room,
            )
          : [];
      if (related.length) {
        lines.push(
          lines.length
            ? 'Passages that match other forms of the words:'
            : `No line holds "${query}"; passages that match other forms of its words:`,
        );
        lines.push(...related.map(passageLine));
      }
      if (lines.length === 0) lines.push(`No matches for "${query}" in ${found.searched} document(s).`);
      if (found.truncated) lines.push(`(stopped after ${maxResults} matches)`);
      if (found.skipped > 0) lines.push(`(${found.skipped} file(s) skipped: binary or too large)`);
      return text(lines.join('\n'));
    }),
  );

  server.registerTool(
    'edit',
    {
      description:
        'Change a document: either replace exact text (each oldText must occur exactly once), or give the whole ' +
        'new content. baseVersion is required for an existing document: the version read or list returned. If ' +
        'the document changed since, nothing is written and the answer is a conflict with the current version: ' +
        'read it again and redo the change on the current text. Without baseVersion only a new document is ' +
        'created. Atomic; the replaced version is kept as <name>.bak. The answer gives the new version.',
      inputSchema: {
        path: pathArg,
        edits: z
          .array(z.object({ oldText: z.string().min(1), newText: z.string() }))
          .min(1)
          .max(50)
          .optional(),
        content: z.string().optional(),
        baseVersion: versionArg.optional(),
      },
      annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
    },
    safely(async ({ path, edits, content, baseVersion }) => {
      if ((edits === undefined) === (content === undefined)) {
        throw new DocsError('invalid', 'give either edits or content, not both and not neither');
      }
      let previous = '';
      let next = content ?? '';
      if (edits) {
        if (baseVersion === undefined)
          throw new DocsError(
            'invalid',
            `baseVersion is required: read ${path} first and pass the version it gives`,
          );
        const document = await root.readText(path);
        previous = document.text;
        // The edits are applied to the text of baseVersion only; the write below re-checks it under the lock.
        if (document.version !== normaliseVersion(baseVersion))
          throw new DocsError(
            'conflict',
            `${document.path} changed since version ${baseVersion} (current version ${document.version}); ` +
              'nothing was written. Read it again and redo the change on the current text.',
          );
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
      const written = await root.writeText(path, next, { baseVersion });
      touchPassages(root, written.path);
      const diff = unifiedDiff(written.path, previous, written.path, next) ?? '(too many changes to show)';
      const backup = written.backup ? `; the previous version is in ${written.backup}` : '';
      const merged =
        written.mergedBytes > 0
          ? ` ${written.mergedBytes} byte(s) another program appended meanwhile were kept at the end.`
          : '';
      const summary = written.created
        ? `Created ${written.path} (version ${written.version}).`
        : `Updated ${written.path} (now version ${written.version})${backup}.${merged}`;
      log('info', summary);
      return text(diff ? `${summary}\n${diff}` : `${summary} (no change in content)`);
    }),
  );

  server.registerTool(
    'compare',
    {
      description: 'Compare two documents line by line (unified diff).',
      inputSchema: { a: pathArg, b: pathArg, context: z.number().int().min(0).max(20).default(3) },
      annotations: readOnly,
    },
    safely(async ({ a, b, context }) => {
      const [left, right] = await Promise.all([root.readText(a), root.readText(b)]);
      const diff = unifiedDiff(left.path, left.text, right.path, right.text, context);
      if (diff === undefined) return text(`${left.path} and ${right.path} differ in too many lines to show.`);
      return text(diff || `${left.path} and ${right.path} are identical.`);
    }),
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
    safely(async ({ path }, extra) => {
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
    }),
  );

  return server;
}

function versionNote(path: string, version: string): string {
  return `(${path} is at version ${version}; to change it, call edit with baseVersion "${version}")`;
}
