import pg from 'pg';
import * as sql from './postgres-sql.ts';
import { QueuedStoreWrites } from './queued-writes.ts';
import { type AudioFrame, RecordingEncoder, type RecordingRow } from './recording-encoder.ts';
import {
  type ConversationStore,
  type MemoryItem,
  type MemoryKind,
  type NewMemoryItem,
  type Recording,
  type RecordingSide,
  type RetentionOptions,
  type SessionDetail,
  type SessionSummary,
  type StoredTurn,
  type StoreHealth,
  type StoreLog,
  silentStoreLog,
} from './types.ts';

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:port/database` (libpq-style parameters such as `?host=/run/sock` work). */
  url: string;
  /** Only the age applies on PostgreSQL (its size is the database administrator's: quotas, VACUUM). */
  retention?: Partial<RetentionOptions>;
  /** Queued writes are sent this often (one transaction per batch). */
  batchMs?: number;
  /** Rows kept while the database is unreachable or failing; past it the oldest are dropped, counted. */
  maxPending?: number;
  retryMs?: number;
  /** A connection attempt or a statement taking longer than this counts as failed. */
  timeoutMs?: number;
  retentionIntervalMs?: number;
  /** One side of a recording is cut at this length. */
  maxRecordingMs?: number;
  log?: StoreLog;
}

/** BIGINT and COUNT(*) as numbers (times in ms and counts fit a double), per pool: no global type parser. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20 && format !== 'binary'
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

/** SQLSTATE classes of a row refused for itself (bad value, missing session): dropped alone, not retried. */
const ROW_REFUSED = /^(22|23)/;

/**
 * The store for a shared deployment: PostgreSQL through `pg`. Like the SQLite store, the session side only
 * appends to an in-memory queue and never waits on the database; every `batchMs` the queue is written in one
 * transaction on the pool's own sockets. The schema is created on first use. An unreachable or failing database
 * keeps the rows (bounded), is logged once with the cause, retried every `retryMs`, and logged again when it is
 * back. Recordings are encoded to Ogg Opus in a worker thread (src/store/recording-encoder.ts).
 */
export class PostgresStore extends QueuedStoreWrites implements ConversationStore {
  readonly kind = 'postgres' as const;
  private readonly pool: pg.Pool;
  private readonly log: StoreLog;
  private readonly where: { store: string };
  private queue: (sql.Row | ({ t: 'audio' } & AudioFrame))[] = [];
  /** Rows that failed to be written, oldest first, retried. */
  private waiting: sql.Row[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  /** Rows of the batch being written. */
  private inFlight = 0;
  private schemaReady = false;
  private failing: { code: string; message: string } | undefined;
  private state: StoreHealth = { ok: true, mode: 'file', pending: 0, written: 0, dropped: 0 };
  private readonly recorded = new Set<string>();
  private readonly encoder: RecordingEncoder;
  /** Recordings being finished in the encoder: flush waits for them. */
  private readonly encoding = new Set<Promise<void>>();
  private nextRetentionAt = 0;
  private closed = false;
  private readonly batchMs: number;
  private readonly retryMs: number;
  private readonly maxPending: number;

  constructor(private readonly options: PostgresStoreOptions) {
    super();
    this.log = options.log ?? silentStoreLog;
    this.batchMs = options.batchMs ?? 200;
    this.retryMs = options.retryMs ?? 1_000;
    this.maxPending = options.maxPending ?? 50_000;
    this.where = { store: redact(options.url) };
    this.encoder = new RecordingEncoder(options.maxRecordingMs ?? 2 * 3_600_000, this.log);
    const timeoutMs = options.timeoutMs ?? 5_000;
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: 4,
      connectionTimeoutMillis: timeoutMs,
      query_timeout: timeoutMs * 2,
      statement_timeout: timeoutMs * 2,
      idleTimeoutMillis: 10_000,
      // The store never keeps a process alive.
      allowExitOnIdle: true,
      types,
    });
    // An idle connection the server dropped (restart, admin shutdown): the next write reconnects.
    this.pool.on('error', () => {});
  }

  listSessions(query: { limit?: number; since?: number } = {}): Promise<SessionSummary[]> {
    return sql.listSessions(this.reader, query);
  }

  getSession(sessionId: string): Promise<SessionDetail | undefined> {
    return sql.getSession(this.reader, sessionId);
  }

  turnsSince(since: number, limit?: number): Promise<StoredTurn[]> {
    return sql.turnsSince(this.reader, since, limit);
  }

  getRecording(sessionId: string, side: RecordingSide): Promise<Recording | undefined> {
    return sql.getRecording(this.reader, sessionId, side);
  }

  addMemory(item: NewMemoryItem): Promise<MemoryItem> {
    return sql.addMemory(this.reader, item);
  }

  listMemory(userId: string, query?: { kind?: MemoryKind; limit?: number }): Promise<MemoryItem[]> {
    return sql.listMemory(this.reader, userId, query);
  }

  searchMemory(userId: string, text: string, limit?: number): Promise<MemoryItem[]> {
    return sql.searchMemory(this.reader, userId, text, limit);
  }

  deleteMemory(userId: string, id: number): Promise<boolean> {
    return sql.deleteMemory(this.reader, userId, id);
  }

  deleteUserMemory(userId: string): Promise<number> {
    return sql.deleteUserMemory(this.reader, userId);
  }

  private readonly reader: sql.Read = (text, values) => this.read(text, values);

  health(): StoreHealth {
    return { ...this.state, pending: this.waiting.length + this.queue.length + this.inFlight };
  }

  /** Resolves when everything queued so far was written or failed (health() then says which). */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    // The batch under way may have started before the latest rows: wait for it, then write the rest.
    while (this.writing) await this.writing;
    if (this.queue.length > 0 || this.waiting.length > 0) await this.drain();
    // Sessions that ended in that batch: their recordings, once encoded, are written too.
    if (this.encoding.size > 0) {
      await Promise.all([...this.encoding]);
      while (this.writing) await this.writing;
      if (this.waiting.length > 0) await this.drain();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    // Sessions still open get their recordings written as they are.
    if (this.recorded.size > 0) {
      this.recorded.clear();
      this.track(this.encoder.finish());
      await this.flush();
    }
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.encoder.close();
    this.state = { ...this.state, mode: 'closed' };
    await this.pool.end().catch(() => {});
  }

  protected enqueue(row: PostgresStore['queue'][number]): void {
    if (this.closed) return;
    this.queue.push(row);
    if (this.queue.length > this.maxPending) {
      const over = this.queue.length - this.maxPending;
      this.queue.splice(0, over);
      this.state.dropped += over;
    }
    this.schedule(this.batchMs);
  }

  private schedule(ms: number): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.drain();
    }, ms);
    this.timer.unref?.();
  }

  private drain(): Promise<void> {
    if (this.writing) return this.writing;
    this.writing = this.writeBatch().finally(() => {
      this.writing = undefined;
    });
    return this.writing;
  }

  /** Audio goes to the encoder as it comes; a finished session's recordings become rows like any other. */
  private take(): sql.Row[] {
    const taken = this.queue;
    this.queue = [];
    const rows: sql.Row[] = [];
    const frames: AudioFrame[] = [];
    for (const row of taken) {
      if (row.t === 'audio') {
        const { t: _, ...frame } = row;
        frames.push(frame);
        this.recorded.add(row.sessionId);
        continue;
      }
      rows.push(row);
      if (row.t === 'end' && this.recorded.delete(row.sessionId)) {
        this.encoder.push(frames.splice(0));
        this.track(this.encoder.finish(row.sessionId));
      }
    }
    this.encoder.push(frames);
    return rows;
  }

  private track(finishing: Promise<RecordingRow[]>): void {
    const done: Promise<void> = finishing.then((rows) => {
      this.encoding.delete(done);
      if (rows.length === 0) return;
      this.waiting.push(...rows);
      this.schedule(this.batchMs);
    });
    this.encoding.add(done);
  }

  private async writeBatch(): Promise<void> {
    const all = [...this.waiting, ...this.take()];
    this.waiting = [];
    if (all.length === 0) return;
    this.inFlight = all.length;
    let client: pg.PoolClient | undefined;
    try {
      client = await this.pool.connect();
      if (!this.schemaReady) await this.createSchema(client);
      let refused = 0;
      try {
        await client.query('BEGIN');
        for (const row of all) await sql.apply(client, row);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        if (!ROW_REFUSED.test(code(error))) throw error;
        // A row refused for itself: write the batch again, each row behind a savepoint, and drop only those.
        await client.query('BEGIN');
        for (const row of all) {
          await client.query('SAVEPOINT r');
          try {
            await sql.apply(client, row);
          } catch (rowError) {
            if (!ROW_REFUSED.test(code(rowError))) throw rowError;
            await client.query('ROLLBACK TO SAVEPOINT r');
            refused++;
          }
        }
        await client.query('COMMIT');
      }
      if (refused > 0) {
        this.state.dropped += refused;
        this.log.warn(
          { ...this.where, count: refused, reason: 'refused by the schema' },
          'store: rows dropped',
        );
      }
      this.state.written += all.length - refused;
      if (this.failing) {
        this.failing = undefined;
        this.state = { ...this.state, ok: true, lastError: undefined };
        this.log.info(this.where, 'store: writes resumed');
      }
      await this.retention(client);
    } catch (error) {
      this.keep(all);
      this.setFailing(error);
      this.schedule(this.retryMs);
    } finally {
      // A connection that failed mid-batch is discarded, not reused.
      client?.release(this.failing ? true : undefined);
      this.inFlight = 0;
    }
  }

  private async createSchema(client: pg.PoolClient): Promise<void> {
    // Two servers starting together on one database: the lock makes the second wait for the first's tables.
    await client.query('BEGIN');
    try {
      await client.query('SELECT pg_advisory_xact_lock(7245310018)');
      await client.query(sql.SCHEMA);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    }
    this.schemaReady = true;
  }

  private keep(rows: sql.Row[]): void {
    // New rows may have been queued as the failed batch was written: the failed ones stay first.
    this.waiting = [...rows, ...this.waiting];
    const over = this.waiting.length - this.maxPending;
    if (over > 0) {
      this.waiting = this.waiting.slice(over);
      this.state.dropped += over;
      this.log.warn({ ...this.where, count: over, reason: 'waiting queue full' }, 'store: rows dropped');
    }
  }

  private setFailing(error: unknown): void {
    const failure = { code: code(error), message: (error as Error)?.message ?? String(error) };
    const changed = this.failing?.code !== failure.code;
    this.failing = failure;
    this.state = { ...this.state, ok: false, lastError: `${failure.code}: ${failure.message}` };
    if (changed)
      this.log.error(
        { ...this.where, code: failure.code, err: failure.message, pending: this.waiting.length },
        'store: writes are failing; rows are kept and retried, conversations go on',
      );
  }

  private async retention(client: pg.PoolClient): Promise<void> {
    const maxAgeMs = this.options.retention?.maxAgeMs ?? 0;
    const now = Date.now();
    if (maxAgeMs <= 0 || now < this.nextRetentionAt) return;
    this.nextRetentionAt = now + (this.options.retentionIntervalMs ?? 60_000);
    try {
      const { rowCount } = await client.query(
        'DELETE FROM repartee_sessions WHERE started_at < $1 AND ended_at IS NOT NULL',
        [now - maxAgeMs],
      );
      if (rowCount)
        this.log.info({ ...this.where, deleted: rowCount }, 'store: retention deleted old sessions');
    } catch (error) {
      this.log.error(
        { ...this.where, code: code(error), err: (error as Error).message, during: 'retention' },
        'store: retention failed',
      );
    }
  }

  private async read(text: string, values: unknown[]): Promise<pg.QueryResult> {
    if (this.closed) throw new Error('the store is closed');
    if (!this.schemaReady) {
      const client = await this.pool.connect();
      try {
        await this.createSchema(client);
      } finally {
        client.release();
      }
    }
    return this.pool.query(text, values);
  }
}

function code(error: unknown): string {
  return String((error as { code?: unknown })?.code ?? 'ERROR');
}

/** The URL without its password, for the log. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'postgres (unparsable URL)';
  }
}
