import type { TurnMetrics } from '../metrics/schema.ts';

/**
 * The conversation store: sessions, their turn records (the full metrics record), transcripts, tool calls,
 * interruptions, errors and (opt-in) recordings. Writes are queued and return at once: they are batched and
 * written off the audio path (a worker thread for SQLite), and a failing database never throws into a session.
 * Reads are asynchronous and may fail (the dashboard says so); writes never do.
 */
export interface ConversationStore {
  readonly kind: 'sqlite' | 'postgres';
  /** A new session. `clockOriginMs` is its session clock at that moment; event times are relative to it. */
  beginSession(session: SessionStart): void;
  endSession(sessionId: string, endedAt: number): void;
  addTurn(sessionId: string, turn: TurnMetrics, at: number): void;
  addEvent(event: StoredEvent): void;
  /**
   * One frame of one side's audio for the session's recording (only for sessions begun with `recording`):
   * `atMs` on the session clock relative to the origin. Encoded to Opus off the audio path.
   */
  addAudio(
    sessionId: string,
    side: RecordingSide,
    atMs: number,
    samples: Int16Array,
    sampleRate: number,
  ): void;
  listSessions(query?: { limit?: number; since?: number }): Promise<SessionSummary[]>;
  getSession(sessionId: string): Promise<SessionDetail | undefined>;
  /** Turn records since a wall-clock time, oldest first, with the session's experiment variant. */
  turnsSince(since: number, limit?: number): Promise<StoredTurn[]>;
  getRecording(sessionId: string, side: RecordingSide): Promise<Recording | undefined>;
  /**
   * Memory across conversations (opt-in, per user id: src/context/memory.ts). Unlike the session writes these
   * are awaited and may fail (the caller logs and goes on); items are kept until deleted, not by retention.
   */
  addMemory(item: NewMemoryItem): Promise<MemoryItem>;
  /** The user's items, oldest first (`limit`: the newest that many). */
  listMemory(userId: string, query?: { kind?: MemoryKind; limit?: number }): Promise<MemoryItem[]>;
  /** The user's items whose text contains `text` (case-insensitive), oldest first. */
  searchMemory(userId: string, text: string, limit?: number): Promise<MemoryItem[]>;
  /** Deletes one item of the user's; false when there was none with that id. */
  deleteMemory(userId: string, id: number): Promise<boolean>;
  /** Deletes everything remembered about the user; resolves to the number of items deleted. */
  deleteUserMemory(userId: string): Promise<number>;
  /** What the store is doing now: for /health-like views and the dashboard. Never throws. */
  health(): StoreHealth;
  /** Resolves when everything queued so far was written (or failed, which health() then says). */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export type RecordingSide = 'user' | 'agent';

/** `fact`: something the user stated; `summary`: the summary of one earlier call. */
export type MemoryKind = 'fact' | 'summary';

export interface NewMemoryItem {
  userId: string;
  kind: MemoryKind;
  text: string;
  /** The session it came from. */
  sessionId: string | null;
  /** Wall clock (ms since the epoch). */
  createdAt: number;
}

export interface MemoryItem extends NewMemoryItem {
  id: number;
}

export interface SessionStart {
  id: string;
  /** Wall clock (ms since the epoch). */
  startedAt: number;
  clockOriginMs: number;
  transport?: string | undefined;
  experiment?: string | undefined;
  variant?: string | undefined;
  /** Both sides are recorded (opt-in: `store.recordAudio`). */
  recording: boolean;
}

export type StoredEventKind =
  | 'transcript'
  | 'conversationItem'
  | 'speechStarted'
  | 'speechEnded'
  | 'interruption'
  | 'toolCall'
  | 'toolResult'
  | 'turnCommitted'
  | 'error'
  | 'state';

export interface StoredEvent {
  sessionId: string;
  kind: StoredEventKind;
  /** Session clock, relative to the session's origin. */
  atMs: number;
  data: unknown;
}

export interface SessionSummary {
  id: string;
  startedAt: number;
  endedAt: number | null;
  transport: string | null;
  experiment: string | null;
  variant: string | null;
  turns: number;
  voiceToVoiceP50Ms: number | null;
  interrupted: number;
  errors: number;
  recording: boolean;
}

export interface SessionDetail extends SessionSummary {
  clockOriginMs: number;
  turnRecords: StoredTurn[];
  events: (StoredEvent & { id: number })[];
  recordings: { side: RecordingSide; durationMs: number; bytes: number }[];
}

export interface StoredTurn {
  sessionId: string;
  /** Wall clock when the record was complete. */
  at: number;
  experiment: string | null;
  variant: string | null;
  record: TurnMetrics;
}

export interface Recording {
  mime: string;
  bytes: Uint8Array;
  durationMs: number;
}

export interface StoreHealth {
  ok: boolean;
  /** `memory`: the configured file could not be opened; this run stores in memory only. */
  mode: 'file' | 'memory' | 'closed' | 'failed';
  /** Rows queued or waiting for a retry. */
  pending: number;
  written: number;
  /** Rows given up (the waiting queue was full for too long). */
  dropped: number;
  lastError?: string | undefined;
}

export interface RetentionOptions {
  /** Sessions that started longer ago than this are deleted (with everything of theirs). 0: kept forever. */
  maxAgeMs: number;
  /** Past this database size the oldest sessions are deleted until it fits. 0: no limit. */
  maxBytes: number;
}

/** What the store reports: a pino logger fits. */
export interface StoreLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export const silentStoreLog: StoreLog = { info() {}, warn() {}, error() {} };
