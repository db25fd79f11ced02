import { resolve } from 'node:path';
import { createEmbedder, type Embedder } from '../cache/embeddings.ts';
import { DocsIndex } from '../context/retrieval.ts';
import type { ReparteeConfig } from './config.ts';

/** One index per docs folder (and embedder) per process, shared by its sessions (opened on the first that needs it). */
const indexes = new Map<string, Promise<DocsIndex | undefined>>();

/**
 * The docs index for `config.docsRoot` (retrieval before each LLM call, src/context/retrieval.ts), or undefined
 * when no docs folder is configured, `context.retrievalTokens` is 0, or the folder cannot be read (said once).
 * With `docsEmbeddings`, the passages are embedded in the background and BM25 is combined with similarity; an
 * embedder that cannot be made is said once and the index runs on BM25 alone.
 */
export function configuredDocsIndex(
  config: Pick<ReparteeConfig, 'docsRoot' | 'context' | 'docsEmbeddings'>,
  warn: (message: string) => void,
  env: Record<string, string | undefined> = process.env,
): Promise<DocsIndex | undefined> {
  if (!config.docsRoot || config.context?.retrievalTokens === 0) return Promise.resolve(undefined);
  const root = resolve(config.docsRoot);
  const key = `${root}\n${config.docsEmbeddings ?? ''}`;
  let index = indexes.get(key);
  if (!index) {
    let embedder: Embedder | undefined;
    try {
      embedder = config.docsEmbeddings ? createEmbedder(config.docsEmbeddings, env) : undefined;
    } catch (error) {
      warn(`docs embeddings unavailable, BM25 only: ${(error as Error).message}`);
    }
    const docs = new DocsIndex({
      root,
      embedder,
      onError: (error) => warn(`docs index ${root}: ${error.message}`),
    });
    index = docs.open().then(
      () => docs,
      (error: unknown) => {
        warn(`docs index ${root} unavailable, answering without it: ${(error as Error).message}`);
        return undefined;
      },
    );
    indexes.set(key, index);
  }
  return index;
}
