/**
 * The real server for the chaos suite: `./bin/repartee serve` in its own process on a free loopback port, as a
 * user starts it, plus what can be read about it from outside (/health, and /proc for RSS, open descriptors
 * and sockets). Nothing here reaches into the server's code: a fault it has shows up as it would in production.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { request } from 'node:http';
import { resolve } from 'node:path';

export const REPO = resolve(import.meta.dirname, '../../..');
const BIN = resolve(REPO, 'bin/repartee');

export interface ServerProcessOptions {
  /** Extra CLI flags, e.g. `['--llm', 'openai-compatible:http://127.0.0.1:1234/v1#m']`. */
  args: string[];
  /** Added to a clean environment (no API keys leak in from the caller's). */
  env?: Record<string, string>;
  startTimeoutMs?: number;
}

export interface HealthAnswer {
  ok: boolean;
  latencyMs: number;
  status?: string;
  sessions?: number;
  error?: string;
}

/** The server's sockets, by kind, read from /proc/<pid>/fd and /proc/net/{tcp,tcp6,udp,udp6}. */
export interface SocketCounts {
  /** TCP connections whose local port is the server's: clients (WebSocket, HTTP). */
  clientTcp: number;
  /** TCP connections to other loopback ports: the fake providers. */
  outboundTcp: number;
  udp: number;
  /** Every descriptor the process holds (files, pipes, sockets, timers). */
  fds: number;
}

export class ServerProcess {
  private constructor(
    readonly child: ChildProcess,
    readonly url: string,
    readonly port: number,
    /** The server's output (its log): what was written since a mark, as far as the last 200 kB reach. */
    private readonly output: { since(mark: number): string; written(): number },
  ) {}

  static async start(options: ServerProcessOptions): Promise<ServerProcess> {
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/tmp',
      ...(options.env ?? {}),
    };
    const child = spawn(
      process.execPath,
      [BIN, 'serve', '--host', '127.0.0.1', '--port', '0', ...options.args],
      {
        cwd: REPO,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    let written = 0;
    const keep = (chunk: Buffer) => {
      written += chunk.length;
      output = (output + chunk.toString()).slice(-200_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const timeoutMs = options.startTimeoutMs ?? 120_000;
    const url = await new Promise<string>((resolveUrl, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`repartee serve did not start within ${timeoutMs} ms\n${output}`));
      }, timeoutMs);
      const check = () => {
        const match = /Repartee is listening\. Open (http:\/\/127\.0\.0\.1:\d+)\//.exec(output);
        if (match) {
          clearTimeout(timer);
          child.stdout?.off('data', check);
          resolveUrl(match[1]);
        }
      };
      child.stdout?.on('data', check);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`repartee serve exited (${code ?? signal}) before listening\n${output}`));
      });
    });
    return new ServerProcess(child, url, Number(new URL(url).port), {
      since: (mark) => output.slice(Math.max(0, output.length - (written - mark))),
      written: () => written,
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** What the server wrote (its log) since `mark()` returned `since`, at most the last 200 kB. */
  log(since = 0): string {
    return this.output.since(since);
  }

  /** A position in the log, for `log(since)`. */
  mark(): number {
    return this.output.written();
  }

  get wsUrl(): string {
    return `${this.url.replace(/^http/, 'ws')}/ws`;
  }

  /** GET /health, timed; never throws (a dead or frozen server is an answer too). */
  health(timeoutMs = 3000): Promise<HealthAnswer> {
    const t0 = performance.now();
    return new Promise((done) => {
      const req = request(`${this.url}/health`, { agent: false, timeout: timeoutMs }, (res) => {
        let body = '';
        res.on('data', (chunk) => {
          body += chunk;
        });
        res.on('end', () => {
          const latencyMs = performance.now() - t0;
          try {
            const json = JSON.parse(body) as { status?: string; sessions?: number };
            done({ ok: res.statusCode === 200, latencyMs, status: json.status, sessions: json.sessions });
          } catch {
            done({ ok: false, latencyMs, error: `status ${res.statusCode}, body ${body.slice(0, 80)}` });
          }
        });
        res.on('error', (error) =>
          done({ ok: false, latencyMs: performance.now() - t0, error: error.message }),
        );
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', (error) =>
        done({ ok: false, latencyMs: performance.now() - t0, error: error.message }),
      );
      req.end();
    });
  }

  /** Resident memory now, in bytes (VmRSS). */
  rssBytes(): number {
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
    return kb * 1024;
  }

  sockets(): SocketCounts {
    const inodes = new Set<string>();
    let fds = 0;
    for (const fd of readdirSync(`/proc/${this.pid}/fd`)) {
      fds++;
      try {
        const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${this.pid}/fd/${fd}`));
        if (match) inodes.add(match[1]);
      } catch {
        // closed between the listing and the read
      }
    }
    let clientTcp = 0;
    let outboundTcp = 0;
    let udp = 0;
    for (const table of ['tcp', 'tcp6', 'udp', 'udp6']) {
      let text: string;
      try {
        text = readFileSync(`/proc/${this.pid}/net/${table}`, 'utf8');
      } catch {
        continue;
      }
      for (const line of text.split('\n').slice(1)) {
        const fields = line.trim().split(/\s+/);
        if (fields.length < 10 || !inodes.has(fields[9])) continue;
        if (table.startsWith('udp')) {
          udp++;
          continue;
        }
        const localPort = Number.parseInt(fields[1].split(':')[1], 16);
        const state = fields[3];
        if (state === '0A') continue; // LISTEN: the server's own listening socket
        if (localPort === this.port) clientTcp++;
        else outboundTcp++;
      }
    }
    return { clientTcp, outboundTcp, udp, fds };
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. Resolves with how it ended. */
  async stop(graceMs = 10_000): Promise<string> {
    if (!this.alive) return `already exited (${this.child.exitCode ?? this.child.signalCode})`;
    const exited = new Promise<string>((done) =>
      this.child.once('exit', (code, signal) => done(`exited (${code ?? signal})`)),
    );
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    const how = await exited;
    clearTimeout(timer);
    return how;
  }
}
