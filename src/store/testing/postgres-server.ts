import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/**
 * Debian's PostgreSQL 15 (scripts/setup.sh installs it), started by this test in a temp dir on a free loopback
 * port with its sockets in that dir, and stopped after. Skipped, saying why, only when it cannot start here.
 */
const BIN = '/usr/lib/postgresql/15/bin';
const asRoot = process.getuid?.() === 0;

export class LocalPostgres {
  readonly dir = mkdtempSync(join(tmpdir(), 'repartee-pg-'));
  readonly data = join(this.dir, 'data');
  port = 0;

  private run(tool: string, args: string[]): void {
    const command = asRoot ? 'runuser' : join(BIN, tool);
    const full = asRoot ? ['-u', 'postgres', '--', join(BIN, tool), ...args] : args;
    execFileSync(command, full, { stdio: 'pipe', timeout: 120_000 });
  }

  async init(): Promise<void> {
    if (asRoot) chownSync(this.dir, uidOf('postgres'), gidOf('postgres'));
    this.port = await freePort();
    this.run('initdb', ['-D', this.data, '-A', 'trust', '-U', 'repartee', '--no-sync', '-E', 'UTF8']);
  }

  start(): void {
    this.run('pg_ctl', [
      '-D',
      this.data,
      '-l',
      join(this.dir, 'log'),
      '-w',
      '-t',
      '120',
      '-o',
      `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
      'start',
    ]);
  }

  stop(): void {
    this.run('pg_ctl', ['-D', this.data, '-m', 'fast', '-w', '-t', '120', 'stop']);
  }

  url(database = 'postgres'): string {
    return `postgres://repartee@127.0.0.1:${this.port}/${database}`;
  }

  destroy(): void {
    try {
      this.stop();
    } catch {}
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** A new empty database on this server, its URL. */
  async createDatabase(name: string): Promise<string> {
    const admin = new pg.Client({ connectionString: this.url() });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${name}`);
    } finally {
      await admin.end();
    }
    return this.url(name);
  }
}

function uidOf(user: string): number {
  return Number(execFileSync('id', ['-u', user]).toString().trim());
}
function gidOf(user: string): number {
  return Number(execFileSync('id', ['-g', user]).toString().trim());
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A started server, or why there cannot be one on this machine (the caller skips, saying so). */
export async function startLocalPostgres(): Promise<{ server: LocalPostgres } | { unavailable: string }> {
  if (!existsSync(join(BIN, 'pg_ctl')))
    return { unavailable: `${BIN}/pg_ctl is missing (apt-get install postgresql-15)` };
  const server = new LocalPostgres();
  try {
    await server.init();
    server.start();
    return { server };
  } catch (error) {
    server.destroy();
    return { unavailable: `PostgreSQL could not be started: ${(error as Error).message.split('\n')[0]}` };
  }
}
