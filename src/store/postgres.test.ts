import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/config.ts';
import { openStore } from './open.ts';
import { PostgresStore, type PostgresStoreOptions } from './postgres.ts';
import { conversation, storeContract, waitUntil } from './testing/contract.ts';
import { freePort, type LocalPostgres, startLocalPostgres } from './testing/postgres-server.ts';
import type { StoreLog } from './types.ts';

let server: LocalPostgres | undefined;
let unavailable: string | undefined;
let databases = 0;
const stores: PostgresStore[] = [];

beforeAll(async () => {
  const started = await startLocalPostgres();
  if ('unavailable' in started) {
    unavailable = started.unavailable;
    console.warn(`postgres store tests skipped: ${unavailable}`);
  } else server = started.server;
}, 180_000);

afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

afterAll(() => server?.destroy(), 120_000);

async function newDatabase(): Promise<string> {
  if (!server) throw new Error('no server');
  return server.createDatabase(`contract_${++databases}`);
}

function open(url: string, extra: Partial<PostgresStoreOptions> = {}): PostgresStore {
  const store = new PostgresStore({ url, batchMs: 20, retryMs: 100, timeoutMs: 2_000, ...extra });
  stores.push(store);
  return store;
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

describe('PostgresStore', () => {
  it('has a PostgreSQL server to test against (or says why not)', (context) => {
    if (unavailable) context.skip();
    expect(server?.port).toBeGreaterThan(0);
  });

  describe('the store contract', () => {
    storeContract(async () => {
      if (unavailable) return undefined;
      const url = await newDatabase();
      return (options) => open(url, options);
    });
  });

  it('the database stopped mid-run: logged once, rows kept, written once it is back', async (context) => {
    if (unavailable || !server) return context.skip();
    const url = await newDatabase();
    const { log, lines } = capturingLog();
    const store = open(url, { log });
    conversation(store, 'before', 1);
    await store.flush();
    expect(store.health()).toMatchObject({ ok: true, pending: 0 });
    server.stop();
    try {
      conversation(store, 'during', 2);
      await waitUntil('the failure to be reported', () => store.health().ok === false);
      // Another batch fails too (flush makes the attempt): still logged once.
      conversation(store, 'during2', 1);
      await store.flush();
      expect(store.health().pending).toBeGreaterThan(0);
      expect(store.health().lastError).toMatch(/ECONNREFUSED|57P01|terminat|connect/i);
      expect(lines.filter((l) => l.level === 'error' && /writes are failing/.test(l.message)).length).toBe(1);
      await expect(store.listSessions()).rejects.toThrow();
    } finally {
      server.start();
    }
    await waitUntil('writes to resume', () => store.health().ok && store.health().pending === 0, 60_000);
    expect(lines.some((l) => /writes resumed/.test(l.message))).toBe(true);
    expect((await store.listSessions()).map((s) => s.id).sort()).toEqual(['before', 'during', 'during2']);
    const during = await store.getSession('during');
    expect(during?.turnRecords.length).toBe(2);
    expect(during?.endedAt).not.toBeNull();
  }, 180_000);

  it('an unreachable database from the start: logged without the password, rows kept bounded', async (context) => {
    if (unavailable || !server) return context.skip();
    const port = await freePort();
    const { log, lines } = capturingLog();
    const store = open(`postgres://repartee:secret@127.0.0.1:${port}/nowhere`, { log, maxPending: 5 });
    conversation(store, 'lost', 3); // 8 rows, 5 kept
    await store.flush();
    expect(store.health()).toMatchObject({ ok: false, pending: 5 });
    expect(store.health().dropped).toBe(3);
    const failure = lines.find((l) => l.level === 'error');
    expect(failure?.message).toMatch(/writes are failing/);
    // The password never reaches the log.
    expect(JSON.stringify(failure?.fields)).not.toMatch(/secret/);
    expect(JSON.stringify(failure?.fields)).toMatch(/ECONNREFUSED/);
  }, 60_000);

  it('a row refused by the schema is dropped alone; the rest of its batch is written', async (context) => {
    if (unavailable) return context.skip();
    const store = open(await newDatabase());
    conversation(store, 'ok', 1);
    store.addEvent({ sessionId: 'never-begun', kind: 'error', atMs: 0, data: {} });
    conversation(store, 'ok2', 1);
    await store.flush();
    expect((await store.listSessions()).map((s) => s.id).sort()).toEqual(['ok', 'ok2']);
    expect(store.health()).toMatchObject({ ok: true, dropped: 1, pending: 0 });
  });

  it('openStore picks PostgreSQL for a postgres:// url (the tables made on first use)', async (context) => {
    if (unavailable) return context.skip();
    const url = await newDatabase();
    const store = openStore({
      enabled: true,
      path: ':memory:',
      url,
      retentionDays: 30,
      maxMegabytes: 0,
      recordAudio: false,
    });
    expect(store?.kind).toBe('postgres');
    stores.push(store as PostgresStore);
    expect(await store?.listSessions()).toEqual([]);
    conversation(store as PostgresStore, 'picked', 1);
    await store?.flush();
    expect((await store?.listSessions())?.map((s) => s.id)).toEqual(['picked']);
  });

  it('a process that recorded audio and closed its store exits on its own, the recording written', async (context) => {
    if (unavailable) return context.skip();
    const url = await newDatabase();
    const dir = mkdtempSync(join(tmpdir(), 'repartee-pg-process-'));
    try {
      const script = join(dir, 'record.mts');
      writeFileSync(
        script,
        `import { PostgresStore } from ${JSON.stringify(join(import.meta.dirname, 'postgres.ts'))};
const store = new PostgresStore({ url: ${JSON.stringify(url)}, batchMs: 10 });
store.beginSession({ id: 'p', startedAt: Date.now(), clockOriginMs: 0, recording: true });
for (let i = 0; i < 50; i++) store.addAudio('p', 'agent', i * 20, new Int16Array(320), 16000);
await store.flush();
await store.close();
`,
      );
      // Throws on a crash or a hang (a worker or a socket keeping the process alive).
      execFileSync(process.execPath, ['--import', 'tsx', script], {
        cwd: join(import.meta.dirname, '../..'),
        stdio: 'pipe',
        timeout: 60_000,
      });
      const store = open(url);
      // The session never ended: close() wrote its recording as it was.
      expect((await store.getSession('p'))?.recordings).toEqual([
        { side: 'agent', durationMs: 1000, bytes: expect.any(Number) },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);

  it('REPARTEE_STORE=postgres://… and store.url choose PostgreSQL; a url that is not postgres is refused', async () => {
    const env = { REPARTEE_STORE: 'postgres://u:p@127.0.0.1:5432/db' };
    const config = await loadConfig({ file: '/nonexistent/repartee.config.json', env });
    expect(config.store).toMatchObject({ enabled: true, url: env.REPARTEE_STORE });
    const sqlite = await loadConfig({
      file: '/nonexistent/repartee.config.json',
      env: { REPARTEE_STORE: '/tmp/x.db' },
    });
    expect(sqlite.store).toMatchObject({ path: '/tmp/x.db' });
    expect(sqlite.store.url).toBeUndefined();
    await expect(
      loadConfig({
        file: '/nonexistent/repartee.config.json',
        env: {},
        overrides: { store: { url: 'mysql://h/db' } },
      }),
    ).rejects.toThrow(/postgres:\/\/ or postgresql:\/\//);
  });
});
