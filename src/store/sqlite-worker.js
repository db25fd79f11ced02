// The SQLite store's worker thread: owns the database connection, writes the batches the main thread posts in
// one transaction each, keeps (bounded) what it could not write and retries, applies retention, answers
// queries, and encodes recordings to Ogg Opus. Nothing here runs on the thread that carries the audio.
// Plain JavaScript so the worker starts without a TypeScript loader (under node, tsx and vitest alike).
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { TrackRecorder } from './ogg-opus.js';
import { prepareStatements, QUERIES, SCHEMA } from './sqlite-sql.js';

const options = workerData;

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
  statements = prepareStatements(db);
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
      post({ op: 'result', id: message.id, value: QUERIES[message.name](db, message.args) });
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
