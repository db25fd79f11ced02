// The SQLite store's worker thread: owns the database connection, writes the batches the main thread posts in
// one transaction each, keeps (bounded) what it could not write and retries, applies retention, answers
// queries, and encodes recordings to Ogg Opus. Nothing here runs on the thread that carries the audio.
// Plain JavaScript so the worker starts without a TypeScript loader (under node, tsx and vitest alike).
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { TrackRecorder } from './ogg-opus.js';

const options = workerData;
const SCHEMA = `
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
`;

let db;
let mode = 'file';
let statements;
/** Rows that failed to be written, oldest first, retried every retryMs. */
let waiting = [];
let written = 0;
let dropped = 0;
let failing;
let retryTimer;
let nextRetentionAt = 0;
let lastSeq = 0;
const recorders = new Map(); // `${sessionId}\n${side}` -> TrackRecorder

function post(message) {
  parentPort.postMessage(message);
}

function describe(error) {
  return { code: error?.code ?? 'ERROR', message: error?.message ?? String(error) };
}

/** Codes that mean the file itself is unusable (not a transient lock or a full disk). */
const UNUSABLE = new Set(['SQLITE_NOTADB', 'SQLITE_CORRUPT', 'SQLITE_CANTOPEN', 'SQLITE_READONLY']);

const RETRYABLE = /^SQLITE_(BUSY|LOCKED|FULL|IOERR|CANTOPEN|READONLY|NOTADB|CORRUPT|PROTOCOL|NOMEM)/;

function open(path) {
  const connection = new Database(path, { timeout: options.busyTimeoutMs });
  try {
    connection.pragma('auto_vacuum = INCREMENTAL');
    connection.pragma('journal_mode = WAL');
    connection.pragma('synchronous = NORMAL');
    connection.pragma('foreign_keys = ON');
    connection.exec(SCHEMA);
  } catch (error) {
    connection.close();
    throw error;
  }
  return connection;
}

function prepare() {
  statements = {
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

function start() {
  try {
    db = open(options.path);
    mode = options.path === ':memory:' ? 'memory' : 'file';
  } catch (error) {
    const { code } = describe(error);
    if (!UNUSABLE.has(code)) {
      // Locked or busy at open: try again later, keeping what arrives meanwhile.
      setFailing(error);
      scheduleRetry();
      return;
    }
    fallBackToMemory(error);
    return;
  }
  prepare();
  post({ op: 'status', ok: true, mode });
}

function fallBackToMemory(error) {
  const { code, message } = describe(error);
  try {
    db?.close();
  } catch {}
  db = open(':memory:');
  mode = 'memory';
  prepare();
  failing = undefined;
  post({ op: 'status', ok: true, mode, code, message, fellBack: true });
}

function setFailing(error) {
  const { code, message } = describe(error);
  const changed = failing?.code !== code;
  failing = { code, message };
  if (changed) post({ op: 'status', ok: false, mode, code, message, pending: waiting.length });
}

function apply(row) {
  switch (row.t) {
    case 'begin':
      statements.begin.run({
        transport: null,
        experiment: null,
        variant: null,
        ...row.session,
        recording: row.session.recording ? 1 : 0,
      });
      break;
    case 'end':
      statements.end.run(row.endedAt, row.sessionId);
      break;
    case 'turn':
      statements.turn.run(
        row.sessionId,
        row.turn.turnId,
        row.at,
        row.turn.outcome,
        row.turn.voiceToVoiceMs,
        JSON.stringify(row.turn),
      );
      break;
    case 'event':
      statements.event.run(row.sessionId, row.kind, row.atMs, JSON.stringify(row.data ?? null));
      break;
    case 'recording':
      statements.recording.run(row.sessionId, row.side, row.mime, row.durationMs, row.bytes);
      break;
  }
}

/** Audio is encoded as it comes; a finished session's recordings become rows like any other. */
function takeAudio(rows) {
  const out = [];
  for (const row of rows) {
    if (row.t === 'audio') {
      const key = `${row.sessionId}\n${row.side}`;
      let recorder = recorders.get(key);
      if (!recorder) {
        recorder = new TrackRecorder(options.maxRecordingMs);
        recorders.set(key, recorder);
      }
      recorder.push(row.atMs, row.samples, row.sampleRate);
      continue;
    }
    out.push(row);
    if (row.t === 'end') out.push(...finishRecordings(row.sessionId));
  }
  return out;
}

let serial = 1;
function finishRecordings(sessionId) {
  const rows = [];
  for (const side of ['user', 'agent']) {
    const key = `${sessionId}\n${side}`;
    const recorder = recorders.get(key);
    if (!recorder) continue;
    recorders.delete(key);
    const { bytes, durationMs } = recorder.finish(serial++);
    rows.push({ t: 'recording', sessionId, side, mime: 'audio/ogg; codecs=opus', durationMs, bytes });
  }
  return rows;
}

function write(rows) {
  const all = waiting.length ? [...waiting, ...rows] : rows;
  if (all.length === 0 || !db) {
    if (!db) keep(all);
    return;
  }
  try {
    let refused = 0;
    db.transaction(() => {
      for (const row of all) {
        try {
          apply(row);
        } catch (error) {
          // A lock, a full disk or an I/O error aborts the batch, which is kept and retried; a row refused
          // for itself (its session's row was given up, a bad value) is dropped alone.
          if (RETRYABLE.test(String(error?.code))) throw error;
          refused++;
        }
      }
    })();
    if (refused > 0) {
      dropped += refused;
      post({ op: 'dropped', count: refused, dropped, reason: 'refused by the schema' });
    }
    written += all.length;
    waiting = [];
    if (failing) {
      failing = undefined;
      post({ op: 'status', ok: true, mode, recovered: true });
    }
  } catch (error) {
    const { code } = describe(error);
    if (UNUSABLE.has(code) && mode === 'file') {
      fallBackToMemory(error);
      return write(all);
    }
    keep(all);
    setFailing(error);
    scheduleRetry();
  }
  retention();
}

function keep(rows) {
  waiting = rows;
  // Bounded: past maxPending the oldest rows are given up (a session's begin row is kept while it lives).
  const over = waiting.length - options.maxPending;
  if (over > 0) {
    waiting = waiting.slice(over);
    dropped += over;
    post({ op: 'dropped', count: over, dropped });
  }
}

function scheduleRetry() {
  if (retryTimer) return;
  retryTimer = setTimeout(() => {
    retryTimer = undefined;
    if (!db) start();
    if (db) write([]);
    post({ op: 'written', seq: lastSeq, written, pending: waiting.length, dropped });
  }, options.retryMs);
}

function retention() {
  const now = Date.now();
  if (!db || failing || now < nextRetentionAt) return;
  nextRetentionAt = now + options.retentionIntervalMs;
  const live = new Set([...recorders.keys()].map((k) => k.split('\n')[0]));
  try {
    let deleted = 0;
    if (options.retention.maxAgeMs > 0) {
      deleted += db
        .prepare('DELETE FROM sessions WHERE started_at < ? AND ended_at IS NOT NULL')
        .run(now - options.retention.maxAgeMs).changes;
    }
    if (options.retention.maxBytes > 0) {
      const size = () => {
        const pageSize = db.pragma('page_size', { simple: true });
        return (
          (db.pragma('page_count', { simple: true }) - db.pragma('freelist_count', { simple: true })) *
          pageSize
        );
      };
      const oldest = db.prepare(
        'SELECT id FROM sessions WHERE ended_at IS NOT NULL ORDER BY started_at LIMIT 1',
      );
      const remove = db.prepare('DELETE FROM sessions WHERE id = ?');
      while (size() > options.retention.maxBytes) {
        const row = oldest.get();
        if (!row || live.has(row.id)) break;
        remove.run(row.id);
        deleted++;
      }
    }
    if (deleted > 0) {
      db.pragma('incremental_vacuum');
      post({ op: 'retention', deleted });
    }
  } catch (error) {
    post({ op: 'status', ok: false, mode, ...describe(error), during: 'retention' });
  }
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

const QUERIES = {
  listSessions({ limit = 100, since = 0 }) {
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
  getSession({ id }) {
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
  turnsSince({ since, limit = 50_000 }) {
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
  getRecording({ id, side }) {
    const row = db
      .prepare('SELECT mime, duration_ms, bytes FROM recordings WHERE session_id = ? AND side = ?')
      .get(id, side);
    return row
      ? { mime: row.mime, durationMs: row.duration_ms, bytes: new Uint8Array(row.bytes) }
      : undefined;
  },
};

parentPort.on('message', (message) => {
  if (message.op === 'write') {
    lastSeq = message.seq;
    write(takeAudio(message.rows));
    post({ op: 'written', seq: message.seq, written, pending: waiting.length, dropped });
  } else if (message.op === 'query') {
    try {
      if (!db)
        throw Object.assign(new Error(`the database is not open: ${failing?.message ?? 'starting'}`), {
          code: failing?.code,
        });
      post({ op: 'result', id: message.id, value: QUERIES[message.name](message.args) });
    } catch (error) {
      post({ op: 'result', id: message.id, error: describe(error) });
    }
  } else if (message.op === 'close') {
    // Sessions still open get their recordings written as they are.
    const rows = [];
    for (const key of [...recorders.keys()]) {
      const sessionId = key.split('\n')[0];
      if (recorders.has(key)) rows.push(...finishRecordings(sessionId));
    }
    write(rows);
    if (retryTimer) clearTimeout(retryTimer);
    try {
      db?.close();
    } catch {}
    post({ op: 'closed', written, pending: waiting.length, dropped });
  }
});

start();
