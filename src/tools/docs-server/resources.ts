import { type FSWatcher, watch } from 'node:fs';
import { type McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  ErrorCode,
  McpError,
  type ReadResourceResult,
  type Resource,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import type { DocsLog } from './logging.ts';
import { DocsError, type DocumentRoot } from './root.ts';

/** Every document is a resource `docs:///<path relative to the root>` (each path segment percent-encoded). */
export const DOCS_URI_PREFIX = 'docs:///';
export const DOCS_URI_TEMPLATE = `${DOCS_URI_PREFIX}{+path}`;
/** The protocol's code for a resource that does not exist. */
export const RESOURCE_NOT_FOUND = -32002;
/** Most subscriptions one client session may hold. */
export const MAX_SUBSCRIPTIONS = 256;

export function documentUri(path: string): string {
  return DOCS_URI_PREFIX + path.split('/').map(encodeURIComponent).join('/');
}

/** The root-relative path a `docs:///` URI names; anything else is invalid params. */
export function pathOfUri(uri: string): string {
  if (!uri.startsWith(DOCS_URI_PREFIX))
    throw new McpError(
      ErrorCode.InvalidParams,
      `not a document URI (they start with ${DOCS_URI_PREFIX}): ${uri}`,
    );
  try {
    return uri.slice(DOCS_URI_PREFIX.length).split('/').map(decodeURIComponent).join('/');
  } catch {
    throw new McpError(ErrorCode.InvalidParams, `the document URI is not validly percent-encoded: ${uri}`);
  }
}

export function mimeTypeOf(path: string): string {
  return /\.(md|markdown)$/i.test(path) ? 'text/markdown' : 'text/plain';
}

/** A DocsError as the JSON-RPC error the protocol asks for: not found is -32002, the rest invalid params. */
export function resourceError(error: unknown, uri: string): McpError {
  if (error instanceof McpError) return error;
  if (error instanceof DocsError) {
    if (error.code === 'not_found')
      return new McpError(RESOURCE_NOT_FOUND, `Resource not found: ${error.message}`, { uri });
    if (error.code === 'io') return new McpError(ErrorCode.InternalError, error.message);
    return new McpError(ErrorCode.InvalidParams, error.message);
  }
  return new McpError(ErrorCode.InternalError, 'reading the document failed inside the documents server');
}

/** Document paths starting with `prefix` (case-insensitive), for completions; at most 100. */
export async function completePaths(root: DocumentRoot, prefix: string): Promise<string[]> {
  const wanted = prefix.toLowerCase();
  const files = await root.files('.').catch(() => []);
  return files
    .map((f) => f.path)
    .filter((p) => p.toLowerCase().startsWith(wanted))
    .slice(0, 100);
}

/**
 * Registers the documents as resources: listed, read by URI (the `docs:///{+path}` template, with path
 * completion), and subscribable: a subscribed document that changes (or appears, or goes) is announced with
 * `notifications/resources/updated`, and any file added or removed with `list_changed`. Changes are noticed by a
 * recursive watch on the root (started on the first list or subscription), each re-checked through the confined
 * root, so a watch event can only trigger a read, never lead outside. Returns the function that stops watching.
 */
export function registerDocumentResources(server: McpServer, root: DocumentRoot, log: DocsLog): () => void {
  /** Subscribed URI → the version last announced (undefined: the document does not exist). */
  const subscriptions = new Map<string, string | undefined>();
  let watcher: FSWatcher | undefined;
  let poller: NodeJS.Timeout | undefined;
  let checkTimer: NodeJS.Timeout | undefined;
  let listChanged = false;
  let stopped = false;

  const versionOf = (uri: string) =>
    root.readText(pathOfUri(uri)).then(
      (d) => d.version as string | undefined,
      () => undefined,
    );

  const check = async () => {
    checkTimer = undefined;
    if (stopped || !server.isConnected()) return;
    if (listChanged) {
      listChanged = false;
      server.sendResourceListChanged();
    }
    for (const [uri, last] of subscriptions) {
      const now = await versionOf(uri);
      if (stopped || !subscriptions.has(uri) || now === last) continue;
      subscriptions.set(uri, now);
      await server.server.sendResourceUpdated({ uri }).catch(() => undefined);
    }
  };
  const soon = (renamed: boolean) => {
    if (renamed) listChanged = true;
    if (checkTimer || stopped) return;
    checkTimer = setTimeout(() => void check(), 50);
    checkTimer.unref();
  };
  const startWatching = () => {
    if (watcher || poller || stopped) return;
    try {
      watcher = watch(root.realRoot, { recursive: true, persistent: false }, (event) =>
        soon(event === 'rename'),
      );
      watcher.on('error', () => {
        watcher?.close();
        watcher = undefined;
        pollInstead();
      });
    } catch {
      pollInstead(); // e.g. out of inotify watches: look every second instead
    }
  };
  const pollInstead = () => {
    if (stopped || poller) return;
    log(
      'warning',
      'watching the documents folder failed; checking subscribed documents every second instead',
    );
    poller = setInterval(() => soon(false), 1000);
    poller.unref();
  };

  const template = new ResourceTemplate(DOCS_URI_TEMPLATE, {
    list: async () => {
      startWatching();
      const files = await root.files('.');
      const resources: Resource[] = files.map((f) => ({
        uri: documentUri(f.path),
        name: f.path,
        mimeType: mimeTypeOf(f.path),
        size: f.size,
      }));
      return { resources };
    },
    complete: { path: (value) => completePaths(root, value) },
  });

  server.registerResource(
    'document',
    template,
    {
      title: 'A document',
      description: 'A text or Markdown document under the root, by its path relative to the root',
    },
    async (uri): Promise<ReadResourceResult> => {
      const href = uri.href;
      try {
        const document = await root.readText(pathOfUri(href));
        return {
          contents: [
            { uri: documentUri(document.path), mimeType: mimeTypeOf(document.path), text: document.text },
          ],
        };
      } catch (error) {
        throw resourceError(error, href);
      }
    },
  );

  server.server.registerCapabilities({ resources: { subscribe: true, listChanged: true } });
  server.server.setRequestHandler(SubscribeRequestSchema, async (request) => {
    const { uri } = request.params;
    const path = pathOfUri(uri);
    let version: string | undefined;
    try {
      version = (await root.readText(path)).version;
    } catch (error) {
      // A document that does not exist yet may be subscribed to: its creation is an update.
      if (!(error instanceof DocsError && error.code === 'not_found')) throw resourceError(error, uri);
    }
    if (!subscriptions.has(uri) && subscriptions.size >= MAX_SUBSCRIPTIONS)
      throw new McpError(ErrorCode.InvalidRequest, `at most ${MAX_SUBSCRIPTIONS} subscriptions per session`);
    subscriptions.set(uri, version);
    startWatching();
    return {};
  });
  server.server.setRequestHandler(UnsubscribeRequestSchema, async (request) => {
    pathOfUri(request.params.uri);
    subscriptions.delete(request.params.uri);
    return {};
  });

  return () => {
    stopped = true;
    subscriptions.clear();
    watcher?.close();
    clearInterval(poller);
    clearTimeout(checkTimer);
  };
}
