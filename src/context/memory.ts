import MiniSearch from 'minisearch';
import type { TokenCounter } from '../providers/llm/contract.ts';
import { type ForgetCommand, forgetCommand } from './memory-rules.ts';
import { searchTerm, tokenize } from './relevance-text.ts';

/** `fact`: something the user stated; `summary`: the summary of one call. */
export type MemoryKind = 'fact' | 'summary';

/** One remembered item as the store keeps it (structurally src/store's MemoryItem: context/ imports no store). */
export interface MemoryRecord {
  id: number;
  kind: MemoryKind;
  text: string;
  sessionId: string | null;
  createdAt: number;
}

/** The part of the conversation store memory uses (ConversationStore fits). Every call may fail. */
export interface MemoryBackend {
  addMemory(item: {
    userId: string;
    kind: MemoryKind;
    text: string;
    sessionId: string | null;
    createdAt: number;
  }): Promise<MemoryRecord>;
  listMemory(userId: string, query?: { kind?: MemoryKind; limit?: number }): Promise<MemoryRecord[]>;
  deleteMemory(userId: string, id: number): Promise<boolean>;
  deleteUserMemory(userId: string): Promise<number>;
}

export interface UserMemoryOptions {
  store: MemoryBackend;
  userId: string;
  /** The session that adds items now: its own items are in its history, so its prompts do not repeat them. */
  sessionId: string;
  /** Tokens of the prompt the remembered items may take (`memory.tokens`). */
  maxTokens: number;
  /** At most this many items (the newest) are loaded at session start. */
  maxItems?: number;
  /** Wall clock for `createdAt`. */
  now?: () => number;
  /** A store call that failed: the conversation goes on without it. */
  onError?(error: Error): void;
}

export const MEMORY_HEADING =
  'From earlier conversations with this user (what they told you then; use it when it helps, it may be out of date):';

/** An item of this session's view: `id` settles once the store has it (undefined: the write failed). */
interface Entry {
  key: number;
  kind: MemoryKind;
  text: string;
  sessionId: string | null;
  createdAt: number;
  id: Promise<number | undefined>;
}

/** What a forget request deleted, for the confirmation. */
export interface Forgotten {
  command: ForgetCommand;
  texts: string[];
}

/** At most this many of the best-ranked items are weighed for one prompt block. */
const MAX_CANDIDATES = 24;
/** A line shorter than this is not worth trying for the budget's last tokens. */
const MIN_LINE_TOKENS = 8;

/** Items whose BM25 score is at least this share of the best one's are what "forget … about X" deletes. */
const FORGET_SHARE = 0.5;

/**
 * One user's memory across conversations, as one session sees it: loaded from the store at session start,
 * ranked by BM25 (MiniSearch with the relevance module's stemming tokenizer) against each user turn, and kept in
 * step with the store as items are added and forgotten. Store calls are never awaited on the reply's path: an
 * item is usable at once and written behind; a failing store is reported and the session goes on.
 */
export class UserMemory {
  private readonly entries = new Map<number, Entry>();
  private readonly index = new MiniSearch<{ key: number; text: string }>({
    fields: ['text'],
    idField: 'key',
    tokenize,
    processTerm: searchTerm,
    searchOptions: { tokenize, processTerm: searchTerm },
  });
  private readonly writes = new Set<Promise<unknown>>();
  private nextKey = 1;
  private loaded: Promise<void> | undefined;

  constructor(private readonly options: UserMemoryOptions) {}

  get userId(): string {
    return this.options.userId;
  }

  /** Everything this session knows of the user's memory now, oldest first. */
  get items(): readonly { kind: MemoryKind; text: string; sessionId: string | null; createdAt: number }[] {
    return [...this.entries.values()];
  }

  /** Loads the user's items (idempotent; never rejects: a failing store leaves the memory empty, reported). */
  load(): Promise<void> {
    this.loaded ??= this.options.store
      .listMemory(this.options.userId, { limit: this.options.maxItems ?? 500 })
      .then((records) => {
        for (const r of records) this.add(r.kind, r.text, r.sessionId, r.createdAt, Promise.resolve(r.id));
      })
      .catch((error: unknown) => this.report(error, 'memory: could not load the user’s memory'));
    return this.loaded;
  }

  /** Remembers `text` (written to the store behind); false when the same text is already remembered. */
  remember(kind: MemoryKind, text: string): boolean {
    const clean = text.replace(/\s+/g, ' ').trim();
    if (!clean) return false;
    const same = normalized(clean);
    for (const entry of this.entries.values()) if (normalized(entry.text) === same) return false;
    const createdAt = (this.options.now ?? Date.now)();
    const { store, userId, sessionId } = this.options;
    const id = this.track(
      store
        .addMemory({ userId, kind, text: clean, sessionId, createdAt })
        .then((record) => record.id)
        .catch((error: unknown) => {
          this.report(error, 'memory: could not store an item');
          return undefined;
        }),
    );
    this.add(kind, clean, sessionId, createdAt, id);
    return true;
  }

  /**
   * Carries out a request to forget, from the prompt at once and from the store behind: the newest fact for
   * `last`, the items matching the topic (BM25) for `about`, everything for `all`.
   */
  forget(command: ForgetCommand): Forgotten {
    let chosen: Entry[];
    if (command.scope === 'all') chosen = [...this.entries.values()];
    else if (command.scope === 'last') {
      const facts = [...this.entries.values()].filter((e) => e.kind === 'fact');
      chosen = facts.length ? [facts.reduce((a, b) => (b.createdAt >= a.createdAt ? b : a))] : [];
    } else {
      const hits = this.index.search(command.topic);
      const best = hits[0]?.score ?? 0;
      chosen = hits
        .filter((h) => h.score >= best * FORGET_SHARE)
        .map((h) => this.entries.get(h.id as number))
        .filter((e): e is Entry => e !== undefined);
    }
    // A call summary that tells a forgotten fact goes with it.
    if (command.scope !== 'all') chosen.push(...this.summariesTelling(chosen));
    for (const entry of chosen) {
      this.entries.delete(entry.key);
      this.index.discard(entry.key);
    }
    const { store, userId } = this.options;
    if (command.scope === 'all') {
      // Writes still on their way land first, then go with the rest.
      const pending = [...this.writes];
      this.track(
        Promise.allSettled(pending)
          .then(() => store.deleteUserMemory(userId))
          .catch((error: unknown) => this.report(error, 'memory: could not delete the user’s memory')),
      );
    } else {
      for (const entry of chosen) {
        this.track(
          entry.id
            .then((id) => (id === undefined ? false : store.deleteMemory(userId, id)))
            .catch((error: unknown) => this.report(error, 'memory: could not delete an item')),
        );
      }
    }
    return { command, texts: chosen.map((e) => e.text) };
  }

  /** A user turn asking to forget, carried out; undefined for any other turn. */
  forgetIfAsked(userText: string): Forgotten | undefined {
    const command = forgetCommand(userText);
    return command ? this.forget(command) : undefined;
  }

  /**
   * The prompt block of the items from earlier conversations relevant to `query` (best first), within
   * `maxTokens` and the memory's own budget; undefined when none matches or fits. A request to forget gets none.
   */
  block(
    query: string,
    maxTokens: number,
    counter: TokenCounter,
  ): { text: string; tokens: number; used: number } | undefined {
    const room = Math.min(maxTokens, this.options.maxTokens);
    if (room <= 0 || !query.trim() || this.entries.size === 0 || forgetCommand(query)) return undefined;
    let text = MEMORY_HEADING;
    let tokens = counter.countTokens(text);
    let used = 0;
    let tried = 0;
    for (const hit of this.index.search(query)) {
      const entry = this.entries.get(hit.id as number);
      if (!entry || entry.sessionId === this.options.sessionId) continue;
      // Counting is the cost: the best few candidates only, and none once the budget is nearly spent.
      if (++tried > MAX_CANDIDATES || room - tokens < MIN_LINE_TOKENS) break;
      const day = new Date(entry.createdAt).toISOString().slice(0, 10);
      const line = `\n- ${entry.kind === 'summary' ? `(summary of a call on ${day}) ` : `(${day}) `}${entry.text}`;
      const size = counter.countTokens(line);
      if (tokens + size > room) continue;
      text += line;
      tokens += size;
      used++;
    }
    return used ? { text, tokens, used } : undefined;
  }

  /** Resolves when every store write and delete started so far has settled (close, tests). */
  async settled(): Promise<void> {
    while (this.writes.size > 0) await Promise.allSettled([...this.writes]);
  }

  /** The summaries among `facts`' best BM25 matches (score at least FORGET_SHARE of the best). */
  private summariesTelling(facts: readonly Entry[]): Entry[] {
    const found = new Map<number, Entry>();
    for (const fact of facts) {
      if (fact.kind !== 'fact') continue;
      const hits = this.index.search(fact.text);
      const best = hits[0]?.score ?? 0;
      for (const hit of hits) {
        const entry = this.entries.get(hit.id as number);
        if (entry?.kind === 'summary' && hit.score >= best * FORGET_SHARE && !facts.includes(entry))
          found.set(entry.key, entry);
      }
    }
    return [...found.values()];
  }

  private add(
    kind: MemoryKind,
    text: string,
    sessionId: string | null,
    createdAt: number,
    id: Promise<number | undefined>,
  ): void {
    const key = this.nextKey++;
    this.entries.set(key, { key, kind, text, sessionId, createdAt, id });
    this.index.add({ key, text });
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.writes.add(promise);
    void promise.finally(() => this.writes.delete(promise));
    return promise;
  }

  private report(error: unknown, context: string): void {
    const base = error instanceof Error ? error : new Error(String(error));
    this.options.onError?.(new Error(`${context}: ${base.message}`, { cause: base }));
  }
}

function normalized(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
}
