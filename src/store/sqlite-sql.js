// The SQLite store's SQL: the schema, the write statements and the read queries the worker answers.
// Plain JavaScript, imported by sqlite-worker.js (which must start without a TypeScript loader).

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS sessions (
  id TEXT PRIMARY KEY, started_at INTEGER NOT NULL, ended_at INTEGER, clock_origin_ms REAL NOT NULL,
  transport TEXT, experiment TEXT, variant TEXT, recording INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS sessions_started ON sessions(started_at);
CREATE TABLE IF NOT EXISTS turns (
  id INTEGER PRIMARY KEY, session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  turn_id INTEGER NOT NULL, at INTEGER NOT NULL, outcome TEXT, voice_to_voice_ms REAL, record TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS turns_at ON turns(at);
CREATE INDEX IF NOT EXISTS turns_session ON turns(session_id);
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY, session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  kind TEXT NOT NULL, at_ms REAL NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_session ON events(session_id);
CREATE TABLE IF NOT EXISTS recordings (
  session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE, side TEXT NOT NULL, mime TEXT NOT NULL,
  duration_ms INTEGER NOT NULL, bytes BLOB NOT NULL, PRIMARY KEY (session_id, side));
CREATE TABLE IF NOT EXISTS memory (
  id INTEGER PRIMARY KEY, user_id TEXT NOT NULL, kind TEXT NOT NULL, text TEXT NOT NULL, session_id TEXT,
  created_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS memory_user ON memory(user_id, id);
`;

/** The write statements, prepared once per connection. */
export function prepareStatements(db) {
  return {
    begin: db.prepare(
      `INSERT INTO sessions (id, started_at, clock_origin_ms, transport, experiment, variant, recording)
       VALUES (@id, @startedAt, @clockOriginMs, @transport, @experiment, @variant, @recording)
       ON CONFLICT(id) DO NOTHING`,
    ),
    end: db.prepare('UPDATE sessions SET ended_at = ? WHERE id = ?'),
    turn: db.prepare(
      'INSERT INTO turns (session_id, turn_id, at, outcome, voice_to_voice_ms, record) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    event: db.prepare('INSERT INTO events (session_id, kind, at_ms, data) VALUES (?, ?, ?, ?)'),
    recording: db.prepare(
      `INSERT OR REPLACE INTO recordings (session_id, side, mime, duration_ms, bytes) VALUES (?, ?, ?, ?, ?)`,
    ),
  };
}

const parse = (text) => JSON.parse(text);

function summaryRow(row) {
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
    recording: row.recording === 1,
  };
}

function median(values) {
  const sorted = values.filter((v) => typeof v === 'number').sort((a, b) => a - b);
  return sorted.length ? sorted[Math.ceil(sorted.length / 2) - 1] : null;
}

function memoryRow(row) {
  return {
    id: row.id,
    userId: row.user_id,
    kind: row.kind,
    text: row.text,
    sessionId: row.session_id ?? null,
    createdAt: row.created_at,
  };
}

/** Newest `limit` rows, returned oldest first. */
const oldestFirst = (rows) => rows.reverse().map(memoryRow);

/**
 * The queries the main thread may ask for, by name; each takes the open connection first. The memory ones
 * write too: they are awaited by their caller, unlike the queued session rows.
 */
export const QUERIES = {
  addMemory(db, { userId, kind, text, sessionId = null, createdAt }) {
    const { lastInsertRowid } = db
      .prepare('INSERT INTO memory (user_id, kind, text, session_id, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(userId, kind, text, sessionId, createdAt);
    return { id: Number(lastInsertRowid), userId, kind, text, sessionId, createdAt };
  },
  listMemory(db, { userId, kind = null, limit = 1000 }) {
    return oldestFirst(
      db
        .prepare(
          'SELECT * FROM memory WHERE user_id = ? AND (? IS NULL OR kind = ?) ORDER BY id DESC LIMIT ?',
        )
        .all(userId, kind, kind, limit),
    );
  },
  searchMemory(db, { userId, text, limit = 100 }) {
    const pattern = `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    return oldestFirst(
      db
        .prepare(
          "SELECT * FROM memory WHERE user_id = ? AND text LIKE ? ESCAPE '\\' ORDER BY id DESC LIMIT ?",
        )
        .all(userId, pattern, limit),
    );
  },
  deleteMemory(db, { userId, id }) {
    return db.prepare('DELETE FROM memory WHERE user_id = ? AND id = ?').run(userId, id).changes > 0;
  },
  deleteUserMemory(db, { userId }) {
    return db.prepare('DELETE FROM memory WHERE user_id = ?').run(userId).changes;
  },
  listSessions(db, { limit = 100, since = 0 }) {
    const rows = db
      .prepare(
        `SELECT s.*, (SELECT COUNT(*) FROM turns t WHERE t.session_id = s.id) AS turns,
           (SELECT COUNT(*) FROM turns t WHERE t.session_id = s.id AND t.outcome = 'interrupted') AS interrupted,
           (SELECT COUNT(*) FROM events e WHERE e.session_id = s.id AND e.kind = 'error') AS errors
         FROM sessions s WHERE s.started_at >= ? ORDER BY s.started_at DESC LIMIT ?`,
      )
      .all(since, limit);
    const v2v = db.prepare('SELECT voice_to_voice_ms AS v FROM turns WHERE session_id = ?');
    return rows.map((row) => ({
      ...summaryRow(row),
      voiceToVoiceP50Ms: median(v2v.all(row.id).map((r) => r.v)),
    }));
  },
  getSession(db, { id }) {
    const row = db.prepare('SELECT * FROM sessions WHERE id = ?').get(id);
    if (!row) return undefined;
    const turnRecords = db
      .prepare('SELECT at, record FROM turns WHERE session_id = ? ORDER BY id')
      .all(id)
      .map((t) => ({
        sessionId: id,
        at: t.at,
        experiment: row.experiment ?? null,
        variant: row.variant ?? null,
        record: parse(t.record),
      }));
    const events = db
      .prepare('SELECT id, kind, at_ms, data FROM events WHERE session_id = ? ORDER BY at_ms, id')
      .all(id)
      .map((e) => ({ id: e.id, sessionId: id, kind: e.kind, atMs: e.at_ms, data: parse(e.data) }));
    const recordings = db
      .prepare('SELECT side, duration_ms, length(bytes) AS size FROM recordings WHERE session_id = ?')
      .all(id)
      .map((r) => ({ side: r.side, durationMs: r.duration_ms, bytes: r.size }));
    const summary = summaryRow({
      ...row,
      turns: turnRecords.length,
      interrupted: turnRecords.filter((t) => t.record.outcome === 'interrupted').length,
      errors: events.filter((e) => e.kind === 'error').length,
    });
    summary.voiceToVoiceP50Ms = median(turnRecords.map((t) => t.record.voiceToVoiceMs));
    return { ...summary, clockOriginMs: row.clock_origin_ms, turnRecords, events, recordings };
  },
  turnsSince(db, { since, limit = 50_000 }) {
    return db
      .prepare(
        `SELECT t.session_id, t.at, t.record, s.experiment, s.variant FROM turns t JOIN sessions s ON s.id = t.session_id
         WHERE t.at >= ? ORDER BY t.at LIMIT ?`,
      )
      .all(since, limit)
      .map((t) => ({
        sessionId: t.session_id,
        at: t.at,
        experiment: t.experiment ?? null,
        variant: t.variant ?? null,
        record: parse(t.record),
      }));
  },
  getRecording(db, { id, side }) {
    const row = db
      .prepare('SELECT mime, duration_ms, bytes FROM recordings WHERE session_id = ? AND side = ?')
      .get(id, side);
    return row
      ? { mime: row.mime, durationMs: row.duration_ms, bytes: new Uint8Array(row.bytes) }
      : undefined;
  },
};
