import type pg from 'pg';
import type { TurnMetrics } from '../metrics/schema.ts';
import type { RecordingRow } from './recording-encoder.ts';
import type {
  MemoryItem,
  MemoryKind,
  NewMemoryItem,
  Recording,
  RecordingSide,
  SessionDetail,
  SessionStart,
  SessionSummary,
  StoredEvent,
  StoredTurn,
} from './types.ts';

// The PostgreSQL store's tables, its row writes and the dashboard's reads (src/store/postgres.ts runs them).

/** A read on the store's pool (the schema made first when needed). */
export type Read = (text: string, values: unknown[]) => Promise<pg.QueryResult>;

export type Row =
  | { t: 'begin'; session: SessionStart }
  | { t: 'end'; sessionId: string; endedAt: number }
  | { t: 'turn'; sessionId: string; at: number; turn: TurnMetrics }
  | ({ t: 'event' } & StoredEvent)
  | RecordingRow;

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS repartee_sessions (
  id TEXT PRIMARY KEY, started_at BIGINT NOT NULL, ended_at BIGINT, clock_origin_ms DOUBLE PRECISION NOT NULL,
  transport TEXT, experiment TEXT, variant TEXT, recording BOOLEAN NOT NULL DEFAULT FALSE);
CREATE INDEX IF NOT EXISTS repartee_sessions_started ON repartee_sessions(started_at);
CREATE TABLE IF NOT EXISTS repartee_turns (
  id BIGSERIAL PRIMARY KEY, session_id TEXT NOT NULL REFERENCES repartee_sessions(id) ON DELETE CASCADE,
  turn_id INTEGER NOT NULL, at BIGINT NOT NULL, outcome TEXT, voice_to_voice_ms DOUBLE PRECISION, record TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS repartee_turns_at ON repartee_turns(at);
CREATE INDEX IF NOT EXISTS repartee_turns_session ON repartee_turns(session_id);
CREATE TABLE IF NOT EXISTS repartee_events (
  id BIGSERIAL PRIMARY KEY, session_id TEXT NOT NULL REFERENCES repartee_sessions(id) ON DELETE CASCADE,
  kind TEXT NOT NULL, at_ms DOUBLE PRECISION NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS repartee_events_session ON repartee_events(session_id);
CREATE TABLE IF NOT EXISTS repartee_recordings (
  session_id TEXT NOT NULL REFERENCES repartee_sessions(id) ON DELETE CASCADE, side TEXT NOT NULL,
  mime TEXT NOT NULL, duration_ms INTEGER NOT NULL, bytes BYTEA NOT NULL, PRIMARY KEY (session_id, side));
CREATE TABLE IF NOT EXISTS repartee_memory (
  id BIGSERIAL PRIMARY KEY, user_id TEXT NOT NULL, kind TEXT NOT NULL, text TEXT NOT NULL, session_id TEXT,
  created_at BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS repartee_memory_user ON repartee_memory(user_id, id);
`;

export async function apply(client: pg.PoolClient, row: Row): Promise<void> {
  switch (row.t) {
    case 'begin': {
      const s = row.session;
      await client.query(
        `INSERT INTO repartee_sessions (id, started_at, clock_origin_ms, transport, experiment, variant, recording)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING`,
        [
          s.id,
          s.startedAt,
          s.clockOriginMs,
          s.transport ?? null,
          s.experiment ?? null,
          s.variant ?? null,
          s.recording,
        ],
      );
      break;
    }
    case 'end':
      await client.query('UPDATE repartee_sessions SET ended_at = $1 WHERE id = $2', [
        row.endedAt,
        row.sessionId,
      ]);
      break;
    case 'turn':
      await client.query(
        `INSERT INTO repartee_turns (session_id, turn_id, at, outcome, voice_to_voice_ms, record)
         VALUES ($1, $2, $3, $4, $5, $6)`,
        [
          row.sessionId,
          row.turn.turnId,
          row.at,
          row.turn.outcome,
          row.turn.voiceToVoiceMs,
          JSON.stringify(row.turn),
        ],
      );
      break;
    case 'event':
      await client.query(
        'INSERT INTO repartee_events (session_id, kind, at_ms, data) VALUES ($1, $2, $3, $4)',
        [row.sessionId, row.kind, row.atMs, JSON.stringify(row.data ?? null)],
      );
      break;
    case 'recording':
      await client.query(
        `INSERT INTO repartee_recordings (session_id, side, mime, duration_ms, bytes) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (session_id, side) DO UPDATE SET mime = EXCLUDED.mime, duration_ms = EXCLUDED.duration_ms,
           bytes = EXCLUDED.bytes`,
        [row.sessionId, row.side, row.mime, Math.round(row.durationMs), Buffer.from(row.bytes)],
      );
      break;
  }
}

export async function listSessions(
  read: Read,
  {
    limit = 100,
    since = 0,
  }: {
    limit?: number;
    since?: number;
  } = {},
): Promise<SessionSummary[]> {
  const { rows } = await read(
    `SELECT s.*, (SELECT COUNT(*) FROM repartee_turns t WHERE t.session_id = s.id) AS turns,
       (SELECT COUNT(*) FROM repartee_turns t WHERE t.session_id = s.id AND t.outcome = 'interrupted') AS interrupted,
       (SELECT COUNT(*) FROM repartee_events e WHERE e.session_id = s.id AND e.kind = 'error') AS errors,
       (SELECT array_agg(t.voice_to_voice_ms) FROM repartee_turns t WHERE t.session_id = s.id) AS v2v
     FROM repartee_sessions s WHERE s.started_at >= $1 ORDER BY s.started_at DESC LIMIT $2`,
    [since, limit],
  );
  return rows.map((row) => ({ ...summaryRow(row), voiceToVoiceP50Ms: median(row.v2v ?? []) }));
}

export async function getSession(read: Read, sessionId: string): Promise<SessionDetail | undefined> {
  const { rows } = await read('SELECT * FROM repartee_sessions WHERE id = $1', [sessionId]);
  const row = rows[0];
  if (!row) return undefined;
  const [turns, events, recordings] = await Promise.all([
    read('SELECT at, record FROM repartee_turns WHERE session_id = $1 ORDER BY id', [sessionId]),
    read('SELECT id, kind, at_ms, data FROM repartee_events WHERE session_id = $1 ORDER BY at_ms, id', [
      sessionId,
    ]),
    read(
      'SELECT side, duration_ms, octet_length(bytes) AS size FROM repartee_recordings WHERE session_id = $1',
      [sessionId],
    ),
  ]);
  const turnRecords: StoredTurn[] = turns.rows.map((t) => ({
    sessionId,
    at: t.at,
    experiment: row.experiment ?? null,
    variant: row.variant ?? null,
    record: JSON.parse(t.record),
  }));
  const eventRows = events.rows.map((e) => ({
    id: e.id,
    sessionId,
    kind: e.kind,
    atMs: e.at_ms,
    data: JSON.parse(e.data),
  }));
  const summary = summaryRow({
    ...row,
    turns: turnRecords.length,
    interrupted: turnRecords.filter((t) => t.record.outcome === 'interrupted').length,
    errors: eventRows.filter((e) => e.kind === 'error').length,
  });
  summary.voiceToVoiceP50Ms = median(turnRecords.map((t) => t.record.voiceToVoiceMs));
  return {
    ...summary,
    clockOriginMs: row.clock_origin_ms,
    turnRecords,
    events: eventRows,
    recordings: recordings.rows.map((r) => ({ side: r.side, durationMs: r.duration_ms, bytes: r.size })),
  };
}

export async function turnsSince(read: Read, since: number, limit = 50_000): Promise<StoredTurn[]> {
  const { rows } = await read(
    `SELECT t.session_id, t.at, t.record, s.experiment, s.variant FROM repartee_turns t
     JOIN repartee_sessions s ON s.id = t.session_id WHERE t.at >= $1 ORDER BY t.at, t.id LIMIT $2`,
    [since, limit],
  );
  return rows.map((t) => ({
    sessionId: t.session_id,
    at: t.at,
    experiment: t.experiment ?? null,
    variant: t.variant ?? null,
    record: JSON.parse(t.record),
  }));
}

export async function getRecording(
  read: Read,
  sessionId: string,
  side: RecordingSide,
): Promise<Recording | undefined> {
  const { rows } = await read(
    'SELECT mime, duration_ms, bytes FROM repartee_recordings WHERE session_id = $1 AND side = $2',
    [sessionId, side],
  );
  const row = rows[0];
  return row ? { mime: row.mime, durationMs: row.duration_ms, bytes: new Uint8Array(row.bytes) } : undefined;
}

export async function addMemory(read: Read, item: NewMemoryItem): Promise<MemoryItem> {
  const { rows } = await read(
    `INSERT INTO repartee_memory (user_id, kind, text, session_id, created_at) VALUES ($1, $2, $3, $4, $5)
     RETURNING id`,
    [item.userId, item.kind, item.text, item.sessionId ?? null, item.createdAt],
  );
  return { ...item, sessionId: item.sessionId ?? null, id: rows[0].id };
}

export async function listMemory(
  read: Read,
  userId: string,
  { kind, limit = 1000 }: { kind?: MemoryKind; limit?: number } = {},
): Promise<MemoryItem[]> {
  const { rows } = await read(
    `SELECT * FROM repartee_memory WHERE user_id = $1 AND ($2::text IS NULL OR kind = $2)
     ORDER BY id DESC LIMIT $3`,
    [userId, kind ?? null, limit],
  );
  return rows.reverse().map(memoryRow);
}

export async function searchMemory(
  read: Read,
  userId: string,
  text: string,
  limit = 100,
): Promise<MemoryItem[]> {
  const pattern = `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  const { rows } = await read(
    `SELECT * FROM repartee_memory WHERE user_id = $1 AND text ILIKE $2 ORDER BY id DESC LIMIT $3`,
    [userId, pattern, limit],
  );
  return rows.reverse().map(memoryRow);
}

export async function deleteMemory(read: Read, userId: string, id: number): Promise<boolean> {
  const { rowCount } = await read('DELETE FROM repartee_memory WHERE user_id = $1 AND id = $2', [userId, id]);
  return (rowCount ?? 0) > 0;
}

export async function deleteUserMemory(read: Read, userId: string): Promise<number> {
  const { rowCount } = await read('DELETE FROM repartee_memory WHERE user_id = $1', [userId]);
  return rowCount ?? 0;
}

// biome-ignore lint/suspicious/noExplicitAny: a database row
function memoryRow(row: any): MemoryItem {
  return {
    id: row.id,
    userId: row.user_id,
    kind: row.kind,
    text: row.text,
    sessionId: row.session_id ?? null,
    createdAt: row.created_at,
  };
}

// biome-ignore lint/suspicious/noExplicitAny: a database row
function summaryRow(row: any): SessionSummary {
  return {
    id: row.id,
    startedAt: row.started_at,
    endedAt: row.ended_at ?? null,
    transport: row.transport ?? null,
    experiment: row.experiment ?? null,
    variant: row.variant ?? null,
    turns: row.turns ?? 0,
    voiceToVoiceP50Ms: null,
    interrupted: row.interrupted ?? 0,
    errors: row.errors ?? 0,
    recording: row.recording === true,
  };
}

function median(values: (number | null | undefined)[]): number | null {
  const sorted = values.filter((v): v is number => typeof v === 'number').sort((a, b) => a - b);
  return sorted.length ? sorted[Math.ceil(sorted.length / 2) - 1] : null;
}
