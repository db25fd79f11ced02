import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { OpusDecoder } from '../audio/opus.ts';
import { SqliteStore } from './sqlite.ts';
import { sampleTurn as turn } from './testing/turns.ts';
import type { StoreLog } from './types.ts';

const dirs: string[] = [];
const stores: SqliteStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'repartee-store-'));
  dirs.push(dir);
  return dir;
}

function capturingLog() {
  const lines: { level: string; fields: object; message: string }[] = [];
  const log: StoreLog = {
    info: (fields, message) => lines.push({ level: 'info', fields, message }),
    warn: (fields, message) => lines.push({ level: 'warn', fields, message }),
    error: (fields, message) => lines.push({ level: 'error', fields, message }),
  };
  return { log, lines };
}

function open(path: string, extra: Partial<ConstructorParameters<typeof SqliteStore>[0]> = {}) {
  const store = new SqliteStore({ path, batchMs: 20, retryMs: 100, busyTimeoutMs: 50, ...extra });
  stores.push(store);
  return store;
}

async function waitUntil<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 20_000,
) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function conversation(store: SqliteStore, id: string, turns = 2) {
  store.beginSession({
    id,
    startedAt: Date.now(),
    clockOriginMs: 5000,
    recording: false,
    variant: 'a',
    experiment: 'x',
  });
  for (let i = 1; i <= turns; i++) {
    store.addEvent({
      sessionId: id,
      kind: 'transcript',
      atMs: i * 1000,
      data: { text: `question ${i}`, final: true },
    });
    store.addTurn(id, turn(id, i, 700 + i), Date.now());
  }
  store.endSession(id, Date.now());
}

describe('SqliteStore', () => {
  it('keeps sessions, their turn records and events across a reopen', async () => {
    const path = join(tempDir(), 'store.db');
    const store = open(path);
    conversation(store, 's1', 3);
    await store.flush();
    await store.close();
    const again = open(path);
    const [summary] = await again.listSessions();
    expect(summary).toMatchObject({
      id: 's1',
      turns: 3,
      variant: 'a',
      experiment: 'x',
      voiceToVoiceP50Ms: 702,
    });
    const detail = await again.getSession('s1');
    expect(detail?.turnRecords.map((t) => t.record.agentText)).toEqual(['answer 1', 'answer 2', 'answer 3']);
    expect(detail?.events.map((e) => e.data)).toContainEqual({ text: 'question 2', final: true });
    expect((await again.turnsSince(0)).length).toBe(3);
    expect(again.health()).toMatchObject({ ok: true, mode: 'file' });
  });

  it('records both sides as Ogg Opus placed on the session clock', async () => {
    const store = open(join(tempDir(), 'rec.db'));
    store.beginSession({ id: 'r', startedAt: Date.now(), clockOriginMs: 0, recording: true });
    const tone = new Int16Array(320).map((_, i) =>
      Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 16000)),
    );
    for (let f = 0; f < 50; f++) store.addAudio('r', 'user', f * 20, tone, 16000); // 0..1 s
    for (let f = 0; f < 25; f++) store.addAudio('r', 'agent', 1500 + f * 20, tone, 16000); // 1.5..2 s
    store.endSession('r', Date.now());
    await store.flush();
    const detail = await store.getSession('r');
    expect(detail?.recordings.map((r) => [r.side, r.durationMs]).sort()).toEqual([
      ['agent', 2000],
      ['user', 1000],
    ]);
    const agent = await store.getRecording('r', 'agent');
    const packets = oggPackets(agent?.bytes ?? new Uint8Array());
    expect(new TextDecoder().decode(packets[0].subarray(0, 8))).toBe('OpusHead');
    const decoder = new OpusDecoder();
    const pcm = packets.slice(2).map((p) => decoder.decode(p));
    const rms = (s: Int16Array) => Math.sqrt(s.reduce((a, v) => a + v * v, 0) / s.length);
    // Silence until 1.5 s, the tone after.
    expect(rms(pcm[30])).toBeLessThan(50);
    expect(rms(pcm[90])).toBeGreaterThan(2000);
  });

  it('a corrupt file is logged, left untouched, and this run stores in memory', async () => {
    const path = join(tempDir(), 'corrupt.db');
    writeFileSync(path, 'this is not a database, it is a shopping list '.repeat(200));
    const { log, lines } = capturingLog();
    const store = open(path, { log });
    conversation(store, 'c1');
    await store.flush();
    expect(store.health()).toMatchObject({ ok: true, mode: 'memory' });
    expect(store.health().lastError).toMatch(/SQLITE_NOTADB/);
    expect(lines.find((l) => l.level === 'error')?.message).toMatch(/unusable.*in memory/);
    expect((await store.listSessions()).map((s) => s.id)).toEqual(['c1']);
    expect(execFileSync('head', ['-c', '20', path]).toString()).toBe('this is not a databa');
  });

  it('a locked database keeps the rows, logs, and writes them once the lock is gone', async () => {
    const path = join(tempDir(), 'locked.db');
    const store = open(path);
    conversation(store, 'before', 1);
    await store.flush();
    const { log, lines } = capturingLog();
    await store.close();
    const locked = open(path, { log });
    await locked.flush();
    const other = new Database(path);
    other.exec('BEGIN IMMEDIATE; CREATE TABLE holder (x);');
    conversation(locked, 'during', 2);
    await waitUntil('the failure to be reported', () => locked.health().ok === false);
    expect(locked.health().lastError).toMatch(/SQLITE_BUSY/);
    expect(lines.some((l) => l.level === 'error' && /writes are failing/.test(l.message))).toBe(true);
    other.exec('ROLLBACK');
    other.close();
    await waitUntil('writes to resume', () => locked.health().ok && locked.health().pending === 0);
    expect(lines.some((l) => /writes resumed/.test(l.message))).toBe(true);
    expect((await locked.listSessions()).map((s) => s.id).sort()).toEqual(['before', 'during']);
  });

  it('a full disk keeps what it can, logs, and conversations go on', async () => {
    const dir = join(tempDir(), 'tiny');
    mkdirSync(dir);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', dir], { stdio: 'ignore' });
    } catch {
      console.warn('full-disk test skipped: cannot mount a tmpfs (needs root)');
      return;
    }
    try {
      const { log, lines } = capturingLog();
      const store = open(join(dir, 'full.db'), { log, maxPending: 500 });
      conversation(store, 'small', 1);
      await store.flush();
      const big = 'x'.repeat(4000);
      for (let i = 0; i < 200; i++) {
        store.beginSession({ id: `f${i}`, startedAt: Date.now(), clockOriginMs: 0, recording: false });
        store.addEvent({ sessionId: `f${i}`, kind: 'transcript', atMs: 0, data: { text: big } });
      }
      await waitUntil('the full disk to be reported', () => store.health().ok === false);
      expect(store.health().lastError).toMatch(/SQLITE_FULL|disk|SQLITE_IOERR/);
      expect(lines.some((l) => l.level === 'error' && /writes are failing/.test(l.message))).toBe(true);
      // Reads still answer with what was written.
      expect((await store.listSessions({ limit: 1000 })).map((s) => s.id)).toContain('small');
      await store.close();
    } finally {
      execFileSync('umount', ['-l', dir]);
    }
  });

  it('retention deletes sessions past their age, with their rows', async () => {
    const store = open(join(tempDir(), 'old.db'), {
      retention: { maxAgeMs: 60_000 },
      retentionIntervalMs: 1,
    });
    store.beginSession({ id: 'old', startedAt: Date.now() - 120_000, clockOriginMs: 0, recording: false });
    store.addTurn('old', turn('old', 1, 800), Date.now() - 119_000);
    store.endSession('old', Date.now() - 110_000);
    await store.flush();
    await new Promise((r) => setTimeout(r, 5));
    conversation(store, 'new', 1);
    await store.flush();
    expect((await store.listSessions()).map((s) => s.id)).toEqual(['new']);
    expect((await store.turnsSince(0)).map((t) => t.sessionId)).toEqual(['new']);
  });
});

/** The packets of an Ogg stream, checking each page's capture pattern. */
function oggPackets(bytes: Uint8Array): Uint8Array[] {
  const packets: Uint8Array[] = [];
  let at = 0;
  let partial: number[] = [];
  while (at < bytes.length) {
    expect(new TextDecoder().decode(bytes.subarray(at, at + 4))).toBe('OggS');
    const segments = bytes[at + 26];
    const lacing = bytes.subarray(at + 27, at + 27 + segments);
    let body = at + 27 + segments;
    for (const size of lacing) {
      partial.push(...bytes.subarray(body, body + size));
      body += size;
      if (size < 255) {
        packets.push(Uint8Array.from(partial));
        partial = [];
      }
    }
    at = body;
  }
  return packets;
}

describe('SqliteStore in a process', () => {
  it('a process that recorded audio and closed its store exits cleanly (the native Opus addon crashed it)', () => {
    const dir = tempDir();
    const script = join(dir, 'record.mts');
    writeFileSync(
      script,
      `import { SqliteStore } from ${JSON.stringify(join(import.meta.dirname, 'sqlite.ts'))};
const store = new SqliteStore({ path: ${JSON.stringify(join(dir, 'r.db'))}, batchMs: 10 });
store.beginSession({ id: 'a', startedAt: Date.now(), clockOriginMs: 0, recording: true });
for (let i = 0; i < 20; i++) store.addAudio('a', 'agent', i * 20, new Int16Array(320), 16000);
store.endSession('a', Date.now());
await store.flush();
await store.close();
`,
    );
    // Throws (with the exit status) on a crash at exit.
    execFileSync(process.execPath, ['--import', 'tsx', script], {
      cwd: join(import.meta.dirname, '../..'),
      stdio: 'pipe',
    });
  }, 60_000);
});
