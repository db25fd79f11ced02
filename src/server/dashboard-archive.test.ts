import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { AudioOutput, PlayoutReceipt } from '../agent/io.ts';
import { AgentSession } from '../agent/session.ts';
import { MonotonicClock } from '../metrics/clock.ts';
import { ConversationTracer } from '../metrics/otel.ts';
import type { TurnMetrics } from '../metrics/schema.ts';
import { ScriptedLlm } from '../providers/llm/scripted.ts';
import { ScriptedStt } from '../providers/stt/scripted.ts';
import { ScriptedTts } from '../providers/tts/scripted.ts';
import { ScriptedVad } from '../providers/vad/scripted.ts';
import { PostgresStore } from '../store/postgres.ts';
import { SqliteStore } from '../store/sqlite.ts';
import { startLocalPostgres } from '../store/testing/postgres-server.ts';
import type { ConversationStore } from '../store/types.ts';
import { SessionArchive } from './dashboard-archive.ts';

/** Plays frames as fast as they come and says they were heard: a client with no network in between. */
function instantOutput(clock: MonotonicClock): AudioOutput {
  return {
    clear() {},
    async play(frames, options): Promise<PlayoutReceipt> {
      let first: number | null = null;
      let playedMs = 0;
      for await (const frame of frames) {
        if (options.signal.aborted) break;
        if (first === null) {
          first = clock.now();
          options.onFirstPlayed?.(first);
        }
        playedMs += (frame.samples.length * 1000) / frame.sampleRate;
      }
      return { firstPlayedAtMs: first, finishedAtMs: clock.now(), playedMs };
    },
  };
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tempDir() {
  const dir = mkdtempSync(join(tmpdir(), 'repartee-archive-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function capture() {
  const lines: string[] = [];
  const push = (fields: object, message: string) => lines.push(`${message} ${JSON.stringify(fields)}`);
  return { lines, log: { info: push, warn: push, error: push } };
}

/** Three typed turns through a real AgentSession archived into `store`; resolves with their records. */
async function converse(store: ConversationStore, tracer?: ConversationTracer): Promise<TurnMetrics[]> {
  const clock = new MonotonicClock();
  const session = new AgentSession({
    clock,
    vad: new ScriptedVad({ speech: [] }),
    stt: new ScriptedStt({ clock, words: [] }),
    llm: new ScriptedLlm({ clock, reply: () => 'Here is a short answer.' }),
    tts: new ScriptedTts({ clock, ttfbMs: 5, realTimeFactor: 0.05 }),
    providerFailure: { presynthesizeApology: false },
  });
  let close!: () => void;
  const closed = new Promise<void>((resolve) => {
    close = resolve;
  });
  const archive = new SessionArchive({ store, recordAudio: true, onTurn: (record) => tracer?.turn(record) });
  tracer?.sessionStarted(session);
  archive.attach(session, closed, 'test');
  const records: TurnMetrics[] = [];
  session.on('metrics', (m) => records.push(m));
  await session.start(instantOutput(clock));
  for (let i = 1; i <= 3; i++) {
    session.sendText(`question number ${i}`);
    const until = Date.now() + 20_000;
    while (records.length < i) {
      if (Date.now() > until) throw new Error(`turn ${i} never completed`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  await session.close();
  close();
  tracer?.sessionEnded(session.id);
  return records;
}

describe('a failing store or collector never stops a conversation', () => {
  it('stores a conversation: its session, turns, events and the agent side of the recording', async () => {
    const store = new SqliteStore({ path: join(tempDir(), 'ok.db'), batchMs: 20 });
    cleanups.push(() => store.close());
    const records = await converse(store);
    await store.flush();
    const [summary] = await store.listSessions();
    const detail = await store.getSession(summary.id);
    expect(detail?.turnRecords.map((t) => t.record.agentText)).toEqual(records.map((r) => r.agentText));
    expect(detail?.events.some((e) => e.kind === 'speechEnded')).toBe(true);
    expect(detail?.endedAt).not.toBeNull();
    expect(detail?.recordings.find((r) => r.side === 'agent')?.durationMs).toBeGreaterThan(0);
  });

  it('a corrupt database file: all turns answered, the cause logged', async () => {
    const path = join(tempDir(), 'corrupt.db');
    writeFileSync(path, Buffer.alloc(8192, 7));
    const { lines, log } = capture();
    const store = new SqliteStore({ path, batchMs: 20, log });
    cleanups.push(() => store.close());
    const records = await converse(store);
    expect(records.map((r) => r.outcome)).toEqual(['completed', 'completed', 'completed']);
    await store.flush();
    expect(lines.join('\n')).toMatch(/unusable.*SQLITE_NOTADB/s);
  });

  it('a database locked by another process: all turns answered, rows written once it is free', async () => {
    const path = join(tempDir(), 'locked.db');
    const first = new SqliteStore({ path });
    await first.flush();
    await first.close();
    const other = new Database(path);
    other.exec('CREATE TABLE IF NOT EXISTS holder (x); BEGIN EXCLUSIVE; INSERT INTO holder VALUES (1);');
    const { lines, log } = capture();
    const store = new SqliteStore({ path, batchMs: 20, busyTimeoutMs: 20, retryMs: 50, log });
    cleanups.push(() => store.close());
    const records = await converse(store);
    expect(records).toHaveLength(3);
    const until = Date.now() + 20_000;
    while (!lines.some((l) => /writes are failing/.test(l)) && Date.now() < until)
      await new Promise((r) => setTimeout(r, 20));
    expect(lines.join('\n')).toMatch(/writes are failing.*SQLITE_BUSY/s);
    other.exec('COMMIT');
    other.close();
    while (store.health().pending > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect((await store.listSessions()).length).toBe(1);
  });

  it('a full disk: all turns answered, the failure logged', async () => {
    const dir = join(tempDir(), 'tiny');
    mkdirSync(dir);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=160k', 'tmpfs', dir], { stdio: 'ignore' });
    } catch {
      console.warn('full-disk test skipped: cannot mount a tmpfs (needs root)');
      return;
    }
    cleanups.push(() => {
      execFileSync('umount', ['-l', dir]);
    });
    // Fill the disk but for a few pages, so the store opens and then cannot grow.
    const { lines, log } = capture();
    const store = new SqliteStore({ path: join(dir, 'full.db'), batchMs: 20, log });
    await store.flush();
    try {
      writeFileSync(join(dir, 'filler'), Buffer.alloc(150 * 1024));
    } catch {}
    cleanups.push(() => store.close());
    const records = await converse(store);
    expect(records.map((r) => r.outcome)).toEqual(['completed', 'completed', 'completed']);
    const until = Date.now() + 20_000;
    while (store.health().ok && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect(store.health().lastError).toMatch(/SQLITE_FULL|SQLITE_IOERR/);
    expect(lines.join('\n')).toMatch(/writes are failing/);
  });

  it('an unreachable OTLP collector: all turns answered, logged once', async () => {
    const { lines, log } = capture();
    // Port 9 on loopback: nothing listens (connection refused).
    const tracer = new ConversationTracer({ url: 'http://127.0.0.1:9/v1/traces', serviceName: 'test', log });
    cleanups.push(() => tracer.close());
    const store = new SqliteStore({ path: ':memory:', batchMs: 20 });
    cleanups.push(() => store.close());
    const records = await converse(store, tracer);
    expect(records).toHaveLength(3);
    await tracer.flush();
    expect(lines.filter((l) => /traces cannot be exported/.test(l))).toHaveLength(1);
  });

  it('PostgreSQL stopped during a conversation: all turns answered, logged once, rows written once it is back', async (context) => {
    const started = await startLocalPostgres();
    if ('unavailable' in started) {
      console.warn(`postgres conversation test skipped: ${started.unavailable}`);
      return context.skip();
    }
    const { server } = started;
    cleanups.push(() => server.destroy());
    const { lines, log } = capture();
    const store = new PostgresStore({
      url: await server.createDatabase('archive'),
      batchMs: 20,
      retryMs: 50,
      log,
    });
    cleanups.push(() => store.close());
    await store.listSessions(); // the tables exist
    server.stop();
    let records: TurnMetrics[];
    try {
      records = await converse(store);
      await store.flush();
      expect(store.health()).toMatchObject({ ok: false });
    } finally {
      server.start();
    }
    expect(records.map((r) => r.outcome)).toEqual(['completed', 'completed', 'completed']);
    expect(lines.filter((l) => /writes are failing/.test(l))).toHaveLength(1);
    const until = Date.now() + 60_000;
    while (store.health().pending > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    const [summary] = await store.listSessions();
    const detail = await store.getSession(summary.id);
    expect(detail?.turnRecords.map((t) => t.record.agentText)).toEqual(records.map((r) => r.agentText));
    expect(detail?.recordings.find((r) => r.side === 'agent')?.durationMs).toBeGreaterThan(0);
  }, 180_000);
});
