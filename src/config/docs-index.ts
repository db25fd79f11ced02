import { resolve } from 'node:path';
import { DocsIndex } from '../context/retrieval.ts';
import type { ReparteeConfig } from './config.ts';

/** One index per docs folder per process, shared by its sessions (opened on the first session that needs it). */
const indexes = new Map<string, Promise<DocsIndex | undefined>>();

/**
 * The docs index for `config.docsRoot` (retrieval before each LLM call, src/context/retrieval.ts), or undefined
 * when no docs folder is configured, `context.retrievalTokens` is 0, or the folder cannot be read (said once).
 */
export function configuredDocsIndex(
  config: Pick<ReparteeConfig, 'docsRoot' | 'context'>,
  warn: (message: string) => void,
): Promise<DocsIndex | undefined> {
  if (!config.docsRoot || config.context?.retrievalTokens === 0) return Promise.resolve(undefined);
  const root = resolve(config.docsRoot);
  let index = indexes.get(root);
  if (!index) {
    const docs = new DocsIndex({ root, onError: (error) => warn(`docs index ${root}: ${error.message}`) });
    index = docs.open().then(
      () => docs,
      (error: unknown) => {
        warn(`docs index ${root} unavailable, answering without it: ${(error as Error).message}`);
        return undefined;
      },
    );
    indexes.set(root, index);
  }
  return index;
}
