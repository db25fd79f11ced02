import MiniSearch from 'minisearch';
import type { ChatMessage } from '../providers/llm/contract.ts';
import { similarity } from '../search/vectors.ts';
import type { HistoryItem } from './history.ts';
import type { ConversationEmbeddings } from './relevance-embeddings.ts';
import { searchTerm, tokenize } from './relevance-text.ts';
import type { MessageTokens } from './tokens.ts';

/** An assistant reply weighs this much of its user turn's match: the facts a caller gives are in their own words. */
const REPLY_WEIGHT = 0.5;
/** The newest candidate turn scores up to this much more than the oldest of equal match (recency as a tiebreak). */
const RECENCY_BOOST = 0.2;
/** Reciprocal rank fusion of the BM25 and the embedding rankings of turns: a rank's weight is 1 / (k + rank). */
const RRF_K = 60;
/** Turns taken from the embedding ranking into the fusion. */
const VECTOR_TURNS = 10;

interface Doc {
  id: number;
  text: string;
}

/** An older turn worth keeping verbatim: the user's message and the assistant's text replies to it. */
export interface RecalledTurn {
  messages: HistoryItem[];
  tokens: number;
  score: number;
}

/**
 * Relevance of older turns to the current user turn: BM25 (MiniSearch, with stemming) over every user and
 * assistant message of the history, kept incrementally (a turn adds two documents; nothing is re-indexed), so
 * ranking 200 turns costs well under a millisecond. One per conversation (ContextManager holds it).
 */
export class HistoryRelevance {
  private readonly index = new MiniSearch<Doc>({
    fields: ['text'],
    idField: 'id',
    tokenize,
    processTerm: searchTerm,
    searchOptions: { tokenize, processTerm: searchTerm },
  });
  /** The item object indexed under each id (a history item is never edited; an id can only be taken back). */
  private readonly indexed = new Map<number, HistoryItem>();

  /** With embeddings, the history's messages are embedded in the background and similarity joins the ranking. */
  constructor(private readonly embeddings?: ConversationEmbeddings) {}

  /** Brings the index in line with `items`: new items in, taken-back ones out. */
  sync(items: readonly HistoryItem[]): void {
    let changed = false;
    let present = 0;
    for (const item of items) {
      if (!indexable(item)) continue;
      present++;
      const known = this.indexed.get(item.id);
      if (known === item) continue;
      if (known) this.index.discard(item.id);
      this.index.add({ id: item.id, text: item.content });
      this.indexed.set(item.id, item);
      changed = true;
    }
    // Every item of `items` is indexed now: as many as indexed means none was taken back (no set to build).
    if (present !== this.indexed.size) {
      const ids = new Set(items.map((m) => m.id));
      for (const id of this.indexed.keys()) {
        if (ids.has(id)) continue;
        this.index.discard(id);
        this.indexed.delete(id);
        changed = true;
      }
    }
    if (changed && this.embeddings)
      void this.embeddings.history.update(() => [...this.indexed.values()].map((m) => m.content));
  }

  /**
   * The turns before `beforeId` most relevant to `query`, as many as fit in `maxTokens`, oldest first. A turn
   * that took tools is recalled without its tool calls and results (a result is never shown without its call).
   */
  select(
    items: readonly HistoryItem[],
    beforeId: number,
    query: string,
    maxTokens: number,
    tokens: MessageTokens,
  ): RecalledTurn[] {
    if (maxTokens <= 0 || !query.trim()) return [];
    this.sync(items);
    const scores = new Map<number, number>();
    for (const hit of this.index.search(query)) scores.set(hit.id as number, hit.score);
    const queryVector = this.embeddings?.vector(query);
    if (scores.size === 0 && !queryVector) return [];
    const turns = turnsBefore(items, beforeId);
    const lexical = turns.map((messages) => {
      let score = 0;
      for (const m of messages) score += (scores.get(m.id) ?? 0) * (m.role === 'user' ? 1 : REPLY_WEIGHT);
      return score;
    });
    const match = queryVector ? this.fused(turns, lexical, queryVector) : lexical;
    const ranked: RecalledTurn[] = [];
    turns.forEach((messages, i) => {
      if (match[i] <= 0) return;
      const score = match[i] * (1 + (RECENCY_BOOST * (i + 1)) / turns.length);
      ranked.push({ messages, score, tokens: messages.reduce((n, m) => n + tokens.count(m), 0) });
    });
    ranked.sort((a, b) => b.score - a.score || b.messages[0].id - a.messages[0].id);
    const chosen: RecalledTurn[] = [];
    let room = maxTokens;
    for (const turn of ranked) {
      if (turn.tokens > room) continue;
      chosen.push(turn);
      room -= turn.tokens;
    }
    return chosen.sort((a, b) => a.messages[0].id - b.messages[0].id);
  }

  /** BM25 and embedding similarity of each turn (its best message; a reply weighs less), by reciprocal rank. */
  private fused(turns: readonly HistoryItem[][], lexical: readonly number[], query: Float32Array): number[] {
    const vectors = this.embeddings?.history;
    const closeness = turns.map((messages) => {
      let best = 0;
      for (const m of messages) {
        const v = vectors?.vectorOf(m.content);
        if (v) best = Math.max(best, similarity(v, query) * (m.role === 'user' ? 1 : REPLY_WEIGHT));
      }
      return best;
    });
    const fused = new Array<number>(turns.length).fill(0);
    const add = (values: readonly number[], limit: number) => {
      const order = values
        .map((value, i) => ({ value, i }))
        .filter((e) => e.value > 0)
        .sort((a, b) => b.value - a.value)
        .slice(0, limit);
      for (const [rank, { i }] of order.entries()) fused[i] += 1 / (RRF_K + rank + 1);
    };
    add(lexical, turns.length);
    add(closeness, VECTOR_TURNS);
    return fused;
  }
}

function indexable(item: HistoryItem): boolean {
  return (item.role === 'user' || item.role === 'assistant') && item.content.trim().length > 0;
}

/** The user turns before `beforeId`: each user message with the assistant's text replies after it. */
function turnsBefore(items: readonly HistoryItem[], beforeId: number): HistoryItem[][] {
  const turns: HistoryItem[][] = [];
  let current: HistoryItem[] | undefined;
  for (const item of items) {
    if (item.id >= beforeId) break;
    if (item.role === 'user') {
      current = [item];
      turns.push(current);
    } else if (current && item.role === 'assistant' && !item.toolCalls?.length && item.content.trim()) {
      current.push(item);
    }
  }
  return turns;
}

/** The text of the current user turn: the pending message, else the last user message of the prompt. */
export function currentUserText(messages: readonly ChatMessage[]): string {
  for (let i = messages.length - 1; i >= 0; i--) if (messages[i].role === 'user') return messages[i].content;
  return '';
}
