import { Worker } from 'node:worker_threads';
import type { TurnMetrics } from '../metrics/schema.ts';
import { QueuedStoreWrites } from './queued-writes.ts';
import {
  type ConversationStore,
  type MemoryItem,
  type MemoryKind,
  type NewMemoryItem,
  type Recording,
  type RecordingSide,
  type RetentionOptions,
  type SessionDetail,
  type SessionStart,
  type SessionSummary,
  type StoredEvent,
  type StoredTurn,
  type StoreHealth,
  type StoreLog,
  silentStoreLog,
} from './types.ts';

export interface SqliteStoreOptions {
  /** The database file; `:memory:` for none. */
  path: string;
  retention?: Partial<RetentionOptions>;
  /** Queued writes go to the worker this often (one transaction per batch). */
  batchMs?: number;
  /** Rows kept while the database refuses writes (locked, full); past it the oldest are dropped, counted. */
  maxPending?: number;
  retryMs?: number;
  /** How long a write waits on another connection's lock before it counts as failed (in the worker). */
  busyTimeoutMs?: number;
  retentionIntervalMs?: number;
  /** One side of a recording is cut at this length. */
  maxRecordingMs?: number;
  log?: StoreLog;
}

type Row =
  | { t: 'begin'; session: SessionStart }
  | { t: 'end'; sessionId: string; endedAt: number }
  | { t: 'turn'; sessionId: string; at: number; turn: TurnMetrics }
  | ({ t: 'event' } & StoredEvent)
  | {
      t: 'audio';
      sessionId: string;
      side: RecordingSide;
      atMs: number;
      samples: Int16Array;
      sampleRate: number;
    };

type WorkerMessage =
  | {
      op: 'status';
      ok: boolean;
      mode: StoreHealth['mode'];
      code?: string;
      message?: string;
      fellBack?: boolean;
      recovered?: boolean;
      pending?: number;
      during?: string;
    }
  | { op: 'written'; seq: number; written: number; pending: number; dropped: number }
  | { op: 'dropped'; count: number; dropped: number; reason?: string }
  | { op: 'retention'; deleted: number }
  | { op: 'result'; id: number; value?: unknown; error?: { code: string; message: string } }
  | { op: 'closed'; written: number; pending: number; dropped: number };

const WORKER_URL = new URL('./sqlite-worker.js', import.meta.url);

/**
 * The default store: SQLite through better-sqlite3 in a worker thread. The session side only appends to an
 * in-memory queue; every `batchMs` the queue is posted to the worker, which writes it in one transaction. A
 * locked or full database keeps the rows (bounded) and retries; an unusable file (corrupt, not a database)
 * is left untouched and this run stores in memory. Each change of state is logged once, with the cause.
 */
export class SqliteStore extends QueuedStoreWrites implements ConversationStore {
  readonly kind = 'sqlite' as const;
  private readonly worker: Worker;
  private readonly log: StoreLog;
  private queue: Row[] = [];
  private timer: NodeJS.Timeout | undefined;
  private seq = 0;
  private ackedSeq = 0;
  private readonly flushWaiters: { seq: number; resolve: () => void }[] = [];
  private readonly queries = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  private nextQuery = 1;
  private state: StoreHealth = { ok: true, mode: 'file', pending: 0, written: 0, dropped: 0 };
  private closed = false;
  private readonly batchMs: number;
  private readonly maxPending: number;
  private readonly exited: Promise<void>;

  constructor(private readonly options: SqliteStoreOptions) {
    super();
    this.log = options.log ?? silentStoreLog;
    this.batchMs = options.batchMs ?? 200;
    this.maxPending = options.maxPending ?? 50_000;
    this.state.mode = options.path === ':memory:' ? 'memory' : 'file';
    this.worker = new Worker(WORKER_URL, {
      workerData: {
        path: options.path,
        retention: { maxAgeMs: 0, maxBytes: 0, ...options.retention },
        maxPending: this.maxPending,
        retryMs: options.retryMs ?? 1_000,
        busyTimeoutMs: options.busyTimeoutMs ?? 2_000,
        retentionIntervalMs: options.retentionIntervalMs ?? 60_000,
        maxRecordingMs: options.maxRecordingMs ?? 2 * 3_600_000,
      },
    });
    // The store must never keep a process alive, nor take it down.
    this.worker.unref();
    this.worker.on('message', (message: WorkerMessage) => this.onMessage(message));
    this.worker.on('error', (error) => {
      this.state = { ...this.state, ok: false, mode: 'failed', lastError: error.message };
      this.log.error(
        { err: error.message, path: options.path },
        'store: worker failed; conversations go on unrecorded',
      );
    });
    this.exited = new Promise((resolve) => this.worker.once('exit', () => resolve()));
    void this.exited.then(() => {
      if (!this.closed) this.state = { ...this.state, ok: false, mode: 'failed' };
      for (const [, query] of this.queries) query.reject(new Error('the store is closed'));
      this.queries.clear();
      for (const waiter of this.flushWaiters.splice(0)) waiter.resolve();
    });
  }

  listSessions(query: { limit?: number; since?: number } = {}): Promise<SessionSummary[]> {
    return this.query('listSessions', query) as Promise<SessionSummary[]>;
  }

  getSession(sessionId: string): Promise<SessionDetail | undefined> {
    return this.query('getSession', { id: sessionId }) as Promise<SessionDetail | undefined>;
  }

  turnsSince(since: number, limit?: number): Promise<StoredTurn[]> {
    return this.query('turnsSince', { since, limit }) as Promise<StoredTurn[]>;
  }

  getRecording(sessionId: string, side: RecordingSide): Promise<Recording | undefined> {
    return this.query('getRecording', { id: sessionId, side }) as Promise<Recording | undefined>;
  }

  addMemory(item: NewMemoryItem): Promise<MemoryItem> {
    return this.query('addMemory', item) as Promise<MemoryItem>;
  }

  listMemory(userId: string, query: { kind?: MemoryKind; limit?: number } = {}): Promise<MemoryItem[]> {
    return this.query('listMemory', { userId, ...query }) as Promise<MemoryItem[]>;
  }

  searchMemory(userId: string, text: string, limit?: number): Promise<MemoryItem[]> {
    return this.query('searchMemory', { userId, text, limit }) as Promise<MemoryItem[]>;
  }

  deleteMemory(userId: string, id: number): Promise<boolean> {
    return this.query('deleteMemory', { userId, id }) as Promise<boolean>;
  }

  deleteUserMemory(userId: string): Promise<number> {
    return this.query('deleteUserMemory', { userId }) as Promise<number>;
  }

  health(): StoreHealth {
    return { ...this.state, pending: this.state.pending + this.queue.length };
  }

  flush(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.send();
    const seq = this.seq;
    if (this.ackedSeq >= seq) return Promise.resolve();
    return new Promise((resolve) => this.flushWaiters.push({ seq, resolve }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    const done = new Promise<void>((resolve) => {
      const onClosed = (message: WorkerMessage) => {
        if (message.op === 'closed') resolve();
      };
      this.worker.on('message', onClosed);
      void this.exited.then(() => resolve());
    });
    this.worker.postMessage({ op: 'close' });
    await done;
    await this.worker.terminate();
    this.state = { ...this.state, mode: 'closed' };
  }

  protected enqueue(row: Row): void {
    if (this.closed) return;
    this.queue.push(row);
    if (this.queue.length > this.maxPending) {
      const over = this.queue.length - this.maxPending;
      this.queue.splice(0, over);
      this.state.dropped += over;
    }
    this.timer ??= setTimeout(() => this.send(), this.batchMs);
    this.timer.unref?.();
  }

  private send(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.queue.length === 0 || this.closed) return;
    const rows = this.queue;
    this.queue = [];
    this.seq++;
    try {
      this.worker.postMessage({ op: 'write', seq: this.seq, rows });
    } catch (error) {
      this.state.dropped += rows.length;
      this.log.error({ err: (error as Error).message }, 'store: could not hand rows to the worker');
    }
  }

  private query(name: string, args: unknown): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error('the store is closed'));
    const id = this.nextQuery++;
    return new Promise((resolve, reject) => {
      this.queries.set(id, { resolve, reject });
      this.worker.postMessage({ op: 'query', id, name, args });
    });
  }

  private onMessage(message: WorkerMessage): void {
    const where = { path: this.options.path };
    switch (message.op) {
      case 'status': {
        const wasOk = this.state.ok;
        this.state = {
          ...this.state,
          ok: message.ok,
          mode: message.mode,
          lastError: message.ok ? undefined : `${message.code}: ${message.message}`,
        };
        if (message.fellBack) {
          this.state.lastError = `${message.code}: ${message.message}`;
          this.log.error(
            { ...where, code: message.code, err: message.message },
            'store: the database file is unusable (left untouched); this run stores in memory only — move the file aside to start a new one. Conversations go on',
          );
        } else if (!message.ok && (wasOk || message.during)) {
          this.log.error(
            {
              ...where,
              code: message.code,
              err: message.message,
              pending: message.pending,
              during: message.during,
            },
            'store: writes are failing; rows are kept and retried, conversations go on',
          );
        } else if (message.recovered) {
          this.log.info(where, 'store: writes resumed');
        }
        break;
      }
      case 'written': {
        this.state.written = message.written;
        this.state.pending = message.pending;
        this.state.dropped = Math.max(this.state.dropped, message.dropped);
        this.ackedSeq = Math.max(this.ackedSeq, message.seq);
        for (let i = this.flushWaiters.length - 1; i >= 0; i--) {
          if (this.flushWaiters[i].seq <= this.ackedSeq) this.flushWaiters.splice(i, 1)[0].resolve();
        }
        break;
      }
      case 'dropped':
        this.state.dropped = message.dropped;
        this.log.warn(
          { ...where, count: message.count, reason: message.reason ?? 'waiting queue full' },
          'store: rows dropped',
        );
        break;
      case 'retention':
        this.log.info({ ...where, deleted: message.deleted }, 'store: retention deleted old sessions');
        break;
      case 'result': {
        const query = this.queries.get(message.id);
        this.queries.delete(message.id);
        if (!query) break;
        if (message.error)
          query.reject(Object.assign(new Error(message.error.message), { code: message.error.code }));
        else query.resolve(message.value);
        break;
      }
      case 'closed':
        break;
    }
  }
}
