import type { AgentSession } from '../agent/session.ts';
import type { HistoryItem } from '../context/history.ts';
import type { ChatMessage } from '../providers/llm/contract.ts';
import type { ClusterRedis } from './redis.ts';

/** A history item as stored: the message, and when (wall clock) and by which worker it was said. */
export interface StoredItem extends ChatMessage {
  atUnixMs: number;
  worker: string;
}

export type SyncResult =
  | { ok: true; length: number }
  | { ok: false; fenced: true; owner: string | null; epoch: number | null }
  | { ok: false; fenced: false; short: number };

/** Conversation ids are chosen by clients: a bounded, key-safe alphabet. */
export const CONVERSATION_ID = /^[A-Za-z0-9_-]{8,100}$/;

/**
 * Each conversation's history in Redis: an owner hash (worker, epoch) and a list of items. Claiming makes a
 * worker the owner under a new epoch; every write names the owner and epoch it holds, and Redis refuses a write
 * from anyone else, so a worker cut off from its client (and replaced) cannot write over the new owner.
 */
export class ConversationStore {
  constructor(
    private readonly redis: ClusterRedis,
    private readonly ttlMs: number,
  ) {}

  private keys(id: string): [string, string] {
    return [this.redis.key('conv', id, 'owner'), this.redis.key('conv', id, 'items')];
  }

  async claim(id: string, worker: string): Promise<number> {
    return this.redis.client.rpClaim(this.keys(id)[0], worker, this.ttlMs);
  }

  async load(id: string): Promise<StoredItem[]> {
    const raw = await this.redis.client.lrange(this.keys(id)[1], 0, -1);
    const items: StoredItem[] = [];
    for (const text of raw) {
      try {
        items.push(JSON.parse(text) as StoredItem);
      } catch {
        // A corrupt entry is skipped: the rest of the conversation is still worth having.
      }
    }
    return items;
  }

  async owner(id: string): Promise<{ owner: string | null; epoch: number | null }> {
    const [owner, epoch] = await this.redis.client.hmget(this.keys(id)[0], 'owner', 'epoch');
    return { owner, epoch: epoch === null ? null : Number(epoch) };
  }

  /** Keeps the first keepLen stored items and appends `items` after them, fenced by (worker, epoch). */
  async sync(
    id: string,
    worker: string,
    epoch: number,
    keepLen: number,
    items: StoredItem[],
  ): Promise<SyncResult> {
    const [owner, list] = this.keys(id);
    const reply = await this.redis.client.rpSync(
      owner,
      list,
      worker,
      epoch,
      keepLen,
      this.ttlMs,
      ...items.map((item) => JSON.stringify(item)),
    );
    const code = Number(reply[0]);
    if (code === 1) return { ok: true, length: Number(reply[1]) };
    if (code === -1) {
      return {
        ok: false,
        fenced: true,
        owner: (reply[1] as string | null) ?? null,
        epoch: reply[2] == null ? null : Number(reply[2]),
      };
    }
    return { ok: false, fenced: false, short: Number(reply[1]) };
  }
}

export interface RecorderEvents {
  /** A write was refused: another worker owns the conversation now. Nothing more is written from here. */
  onFenced?(info: { conversationId: string; owner: string | null; epoch: number | null }): void;
  onWriteFailed?(info: { conversationId: string; error: string }): void;
}

/**
 * Mirrors one session's history into the store as it happens. The session's history is the truth: each sync
 * sends what Redis lacks (items are only ever appended, or the latest taken back). A write that fails (Redis
 * down) is retried on the next item or when Redis is back, with everything it lacks: nothing finished is lost
 * while the worker lives. One write at a time, so items land in order.
 */
export class ConversationRecorder {
  /** Items of the session's history that are ours to store (the system prompt is configuration, not history). */
  private readonly skip: number;
  /** How many leading items Redis is known to hold exactly as we have them. */
  private confirmed = 0;
  private sent: StoredItem[] = [];
  private running: Promise<void> | undefined;
  private again = false;
  private fencedOut = false;
  private readonly offs: (() => void)[] = [];

  constructor(
    readonly conversationId: string,
    private readonly session: AgentSession,
    private readonly store: ConversationStore,
    private readonly worker: string,
    private epoch: number | undefined,
    private readonly claimable: () => boolean,
    private readonly hooks: RecorderEvents = {},
    /** The first items are already stored (a resumed conversation): they need no write. */
    restoredCount = 0,
  ) {
    this.skip = session.history.messages[0]?.role === 'system' ? 1 : 0;
    this.confirmed = restoredCount;
    this.sent = this.items()
      .slice(0, restoredCount)
      .map((item) => this.stored(item));
    this.offs.push(
      session.on('conversationItem', () => this.flush()),
      session.on('turnMerged', () => this.flush()),
    );
  }

  get fenced(): boolean {
    return this.fencedOut;
  }

  /** True when Redis holds everything said so far. */
  get synced(): boolean {
    return (
      !this.fencedOut && this.epoch !== undefined && this.confirmed === this.items().length && !this.running
    );
  }

  /** Writes what Redis lacks; resolves when this write (and any it had to queue behind) is done. */
  flush(): Promise<void> {
    if (this.fencedOut) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.write()
      .catch((error: Error) =>
        this.hooks.onWriteFailed?.({ conversationId: this.conversationId, error: error.message }),
      )
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          void this.flush();
        }
      });
    return this.running;
  }

  /** Stops listening (the session ended), after a last write of what is left. */
  async finish(): Promise<void> {
    await this.flush();
    if (this.running) await this.running;
    for (const off of this.offs.splice(0)) off();
  }

  private items(): readonly HistoryItem[] {
    return this.session.history.messages.slice(this.skip);
  }

  private async write(): Promise<void> {
    if (this.epoch === undefined) {
      if (!this.claimable()) return;
      this.epoch = await this.store.claim(this.conversationId, this.worker);
      this.confirmed = 0; // a conversation first claimed now: send it all
    }
    const now = this.items();
    // Where what Redis holds stops matching the session (the latest item taken back and replaced).
    let keep = Math.min(this.confirmed, now.length);
    for (let i = 0; i < keep; i++) {
      if (this.sent[i]?.content !== now[i].content || this.sent[i]?.role !== now[i].role) {
        keep = i;
        break;
      }
    }
    if (keep === now.length && keep === this.confirmed) return;
    const fresh = now.slice(keep).map((item) => this.stored(item));
    let result = await this.store.sync(this.conversationId, this.worker, this.epoch, keep, fresh);
    if (!result.ok && !result.fenced) {
      // Redis lost items (restarted without its data): write the whole conversation again.
      result = await this.store.sync(this.conversationId, this.worker, this.epoch, 0, [
        ...this.sent.slice(0, keep),
        ...fresh,
      ]);
    }
    if (result.ok) {
      this.sent = [...this.sent.slice(0, keep), ...fresh];
      this.confirmed = this.sent.length;
      return;
    }
    if (result.fenced) {
      this.fencedOut = true;
      this.hooks.onFenced?.({
        conversationId: this.conversationId,
        owner: result.owner,
        epoch: result.epoch,
      });
    }
  }

  private stored(item: HistoryItem): StoredItem {
    const { id: _id, createdAtMs: _at, ...message } = item;
    return { ...message, atUnixMs: Date.now(), worker: this.worker };
  }
}

/** Puts a stored conversation back into a fresh session's history (before its transport attaches). */
export function restoreHistory(session: AgentSession, items: readonly StoredItem[]): number {
  for (const { atUnixMs: _t, worker: _w, ...message } of items) {
    if (message.role === 'system') continue;
    session.history.append(message, session.clock.now());
  }
  return items.filter((item) => item.role !== 'system').length;
}
