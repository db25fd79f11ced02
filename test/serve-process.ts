/**
 * `./bin/repartee serve` as a child process on a free loopback port, for tests that need the real server: its
 * address, /health, its resident memory from /proc, and WebSocket sessions opened the way a client opens them.
 * Nothing reaches into the server's code, so a crash, a hang or a leak shows up as it would in production.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { get } from 'node:http';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { countSockets, type SocketCounts } from './process-sockets.ts';

export type { SocketCounts } from './process-sockets.ts';
export const REPO = fileURLToPath(new URL('..', import.meta.url));
export const TEST_MODEL = fileURLToPath(new URL('./fixtures/models/stories260K.gguf', import.meta.url));

export interface ServeOptions {
  /** Extra CLI flags, e.g. `['--llm', 'openai-compatible:http://127.0.0.1:1234/v1#m']`. */
  args?: string[];
  env?: Record<string, string>;
  /** Start from an environment holding only PATH and HOME (no API keys leak in from the caller's), then `env`. */
  cleanEnv?: boolean;
  startTimeoutMs?: number;
}

export interface HealthAnswer {
  ok: boolean;
  latencyMs: number;
  status?: string;
  sessions?: number;
  error?: string;
}

export class ServeProcess {
  exit: { code: number | null; signal: string | null } | undefined;

  readonly port: number;

  private constructor(
    readonly child: ChildProcess,
    readonly url: string,
    private readonly written: { text(): string; total(): number },
  ) {
    this.port = Number(new URL(url).port);
  }

  static async start(options: ServeOptions = {}): Promise<ServeProcess> {
    const base = options.cleanEnv
      ? { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp' }
      : { ...process.env, REPARTEE_LOG_LEVEL: 'warn' };
    const args = ['bin/repartee', 'serve', '--host', '127.0.0.1', '--port', '0', ...(options.args ?? [])];
    const child = spawn(process.execPath, args, {
      cwd: REPO,
      env: { ...base, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let total = 0;
    const keep = (chunk: Buffer) => {
      total += chunk.length;
      output = (output + chunk.toString()).slice(-200_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const timeoutMs = options.startTimeoutMs ?? 120_000;
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`repartee serve did not start within ${timeoutMs} ms:\n${output}`));
      }, timeoutMs);
      const check = () => {
        const match = /Open (http:\/\/[^\s/]+)/.exec(output);
        if (!match) return;
        clearTimeout(timer);
        child.stdout?.off('data', check);
        resolve(match[1]);
      };
      child.stdout?.on('data', check);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`repartee serve exited (${code ?? signal}) before listening:\n${output}`));
      });
    });
    const server = new ServeProcess(child, url, { text: () => output, total: () => total });
    child.on('exit', (code, signal) => {
      server.exit = { code, signal };
    });
    return server;
  }

  /** The last 200 kB the server wrote (its log). */
  get output(): string {
    return this.written.text();
  }

  /** What the server wrote since `mark()` returned `since`, as far as the last 200 kB reach. */
  log(since = 0): string {
    const text = this.written.text();
    return text.slice(Math.max(0, text.length - (this.written.total() - since)));
  }

  /** A position in the log, for `log(since)`. */
  mark(): number {
    return this.written.total();
  }

  sockets(): SocketCounts {
    return countSockets(this.pid, this.port);
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get alive(): boolean {
    return this.exit === undefined;
  }

  get wsUrl(): string {
    return `${this.url.replace(/^http/, 'ws')}/ws`;
  }

  /**
   * GET /health on a fresh connection (no keep-alive socket the server may be closing): its latency, status and
   * session count, or the reason it did not answer within `timeoutMs`. Never throws: a frozen server is an answer.
   */
  health(timeoutMs = 5_000): Promise<HealthAnswer> {
    const started = performance.now();
    const elapsed = () => performance.now() - started;
    return new Promise((done) => {
      const req = get(`${this.url}/health`, { agent: false, timeout: timeoutMs }, (res) => {
        let body = '';
        res.on('data', (chunk) => {
          body += chunk;
        });
        res.on('end', () => {
          try {
            const { status, sessions } = JSON.parse(body) as { status?: string; sessions?: number };
            done({ ok: res.statusCode === 200, latencyMs: elapsed(), status, sessions });
          } catch {
            done({ ok: false, latencyMs: elapsed(), error: `HTTP ${res.statusCode}: ${body.slice(0, 80)}` });
          }
        });
        res.on('error', (error) => done({ ok: false, latencyMs: elapsed(), error: error.message }));
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', (error) => done({ ok: false, latencyMs: elapsed(), error: error.message }));
    });
  }

  /** Resident memory of the server process (VmRSS from /proc/<pid>/status), in bytes. */
  rssBytes(): number {
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1] ?? Number.NaN) * 1024;
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves with how it ended. */
  async stop(graceMs = 15_000): Promise<string> {
    if (!this.alive) return `already exited (${this.exit?.code ?? this.exit?.signal})`;
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

/** Polls `condition` until it holds or the deadline passes (then throws with `what`). */
export async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface OpenedSession {
  socket: WebSocket;
  ready: { sessionId: string; inputSampleRate: number; outputSampleRate: number };
  /** `error` messages the server sent before `ready` (a provider's report; the session goes on). */
  errors: string[];
}

/**
 * Opens /ws, sends `config` (16 kHz input) and resolves on `ready`; rejects with the server's reason if it
 * refuses (an HTTP status on the upgrade, or a close with a reason). An `error` message is a report, not a refusal.
 */
export function openSession(wsUrl: string, timeoutMs = 60_000): Promise<OpenedSession> {
  return new Promise((resolve, reject) => {
    const errors: string[] = [];
    const socket = new WebSocket(wsUrl);
    const fail = (reason: string) => {
      clearTimeout(timer);
      socket.terminate();
      reject(new Error(reason));
    };
    const timer = setTimeout(() => fail(`no ready within ${timeoutMs} ms`), timeoutMs);
    socket.on('unexpected-response', (_req, res) =>
      fail(`refused: HTTP ${res.statusCode} ${res.statusMessage}`),
    );
    socket.on('error', (error) => fail(`socket error: ${error.message}`));
    socket.on('close', (code, reason) => fail(`closed before ready: ${code} ${reason.toString()}`));
    socket.on('open', () => socket.send(JSON.stringify({ type: 'config', sampleRate: 16_000 })));
    socket.on('message', (data, isBinary) => {
      if (isBinary) return;
      const message = JSON.parse(data.toString()) as { type: string; message?: string };
      if (message.type === 'ready') {
        clearTimeout(timer);
        socket.removeAllListeners('close');
        socket.removeAllListeners('error');
        socket.on('error', () => {}); // later errors belong to the test's own handling
        resolve({ socket, ready: message as unknown as OpenedSession['ready'], errors });
      } else if (message.type === 'error') errors.push(message.message ?? data.toString());
    });
  });
}

/** Closes a socket and resolves when the close handshake (or a hard end) is over. */
export function closeSocket(socket: WebSocket): Promise<void> {
  if (socket.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    socket.once('close', () => resolve());
    socket.close();
    setTimeout(() => socket.terminate(), 5_000).unref();
  });
}
