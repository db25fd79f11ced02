import type { TokenCounter } from '../providers/llm/contract.ts';
import type { Passage } from '../search/chunk.ts';

// The docs index itself (chunking, BM25, stems, embeddings, watching) is src/search/, shared with the docs
// server's search tool; this module puts its passages into the prompt.
export { chunkDocument, type Passage } from '../search/chunk.ts';
export {
  DocsIndex,
  type DocsIndexOptions,
  type ScoredPassage,
  type SearchOptions,
} from '../search/docs-index.ts';

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
