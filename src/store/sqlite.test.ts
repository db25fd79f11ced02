import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from './sqlite.ts';
import { conversation, storeContract, waitUntil } from './testing/contract.ts';
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

describe('SqliteStore', () => {
  describe('the store contract', () => {
    storeContract(async () => {
      const path = join(tempDir(), 'contract.db');
      return (options) => open(path, options);
    });
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
});

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
