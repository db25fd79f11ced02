/**
 * A cluster on this machine for tests and the scale bench: redis-server, HAProxy and `repartee worker`
 * processes, each started here on free loopback ports and stopped after. Nothing reaches into the workers' code:
 * a kill is a real SIGKILL, a drain a real SIGTERM.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { haproxyConfig } from '../../src/cluster/haproxy.ts';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const TEST_MODEL = fileURLToPath(new URL('../fixtures/models/stories260K.gguf', import.meta.url));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A child process with its output kept (last 400 kB) and its exit known. */
export class Proc {
  output = '';
  exit: { code: number | null; signal: string | null } | undefined;
  readonly exited: Promise<void>;

  /** `group`: the child leads its own process group (spawned detached), and a kill takes the whole group. */
  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    private readonly group = false,
  ) {
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-400_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve();
      }),
    );
  }

  get alive(): boolean {
    return this.exit === undefined;
  }

  async waitOutput(pattern: RegExp, timeoutMs = 120_000): Promise<void> {
    await waitFor(
      `${this.name}: ${pattern}`,
      () => {
        if (!this.alive)
          throw new Error(`${this.name} exited (${JSON.stringify(this.exit)}):\n${this.output}`);
        return pattern.test(this.output);
      },
      timeoutMs,
    );
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.alive) return this.exited;
    if (this.group && this.child.pid !== undefined) {
      try {
        process.kill(-this.child.pid, signal);
        return this.exited;
      } catch {
        // The group is gone already: the child alone, below.
      }
    }
    this.child.kill(signal);
    return this.exited;
  }
}

export async function startRedis(port?: number): Promise<Proc & { port: number }> {
  const p = port ?? (await freePort());
  const child = spawn(
    'redis-server',
    ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const proc = Object.assign(new Proc(`redis:${p}`, child), { port: p });
  await proc.waitOutput(/Ready to accept connections/, 30_000);
  return proc;
}

export interface WorkerProc extends Proc {
  id: string;
  port: number;
  agentPort: number;
  url: string;
}

export interface WorkerSpec {
  id: string;
  redisPort: number;
  /** Fixed ports (a worker started again in a slot HAProxy knows); free ones otherwise. */
  port?: number;
  agentPort?: number;
  /** HAProxy's port: a page served through it (http://127.0.0.1:<port>) is this worker's own page too. */
  proxyPort?: number;
  extraArgs?: string[];
  env?: Record<string, string>;
  /** Run it under `faketime` (a machine whose clock is off), e.g. '+30s'. */
  faketime?: string;
}

export async function startWorker(spec: WorkerSpec): Promise<WorkerProc> {
  const port = spec.port ?? (await freePort());
  const agentPort = spec.agentPort ?? (await freePort());
  const args = [
    'bin/repartee',
    'worker',
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--agent-port',
    String(agentPort),
    '--worker-id',
    spec.id,
    '--redis',
    `redis://127.0.0.1:${spec.redisPort}`,
    '--llm',
    `llama:${TEST_MODEL}`,
    '--allowed-hosts',
    // A bare name would mean https (a TLS proxy): the page through this plain-http HAProxy is http://.
    spec.proxyPort ? `http://127.0.0.1:${spec.proxyPort}` : 'localhost',
    ...(spec.extraArgs ?? []),
  ];
  const env = { ...process.env, REPARTEE_LOG_LEVEL: 'info', ...spec.env };
  // faketime forks the worker and waits for it: killing faketime alone left the worker running after the tests
  // (one leaked per run), so it leads a process group and a kill takes the group.
  const child = spec.faketime
    ? spawn('faketime', ['-f', spec.faketime, process.execPath, ...args], {
        cwd: REPO,
        env: { ...env, FAKETIME_DONT_FAKE_MONOTONIC: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      })
    : spawn(process.execPath, args, { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const proc = Object.assign(new Proc(spec.id, child, spec.faketime !== undefined), {
    id: spec.id,
    port,
    agentPort,
    url: `http://127.0.0.1:${port}`,
  });
  await proc.waitOutput(/repartee worker registered/);
  return proc;
}

export async function startHaproxy(
  workers: readonly WorkerProc[],
  fixedPort?: number,
): Promise<Proc & { port: number; url: string }> {
  const port = fixedPort ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'repartee-test-haproxy-'));
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(
    file,
    haproxyConfig({
      bind: `127.0.0.1:${port}`,
      workers: workers.map((w) => ({ name: w.id, host: '127.0.0.1', port: w.port, agentPort: w.agentPort })),
      checkIntervalMs: 300,
    }),
  );
  const child = spawn('haproxy', ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  const proc = Object.assign(new Proc(`haproxy:${port}`, child), { port, url: `http://127.0.0.1:${port}` });
  await waitFor(
    'haproxy listening',
    async () => {
      if (!proc.alive) throw new Error(`haproxy exited:\n${proc.output}`);
      return (await httpGet(`${proc.url}/health`)).status === 200;
    },
    30_000,
  );
  return proc;
}

export function httpGet(
  url: string,
  timeoutMs = 5_000,
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve) => {
    const req = get(url, { agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (c) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      res.on('error', () => resolve({ status: 0, body: '', headers: {} }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, body: '', headers: {} }));
  });
}

export interface HealthBody {
  status: string;
  sessions?: number;
  reason?: string;
  cluster?: { redis: string; resume: boolean; reason?: string; clockSkewMs?: number; draining: boolean };
}

export async function health(url: string): Promise<HealthBody> {
  const answer = await httpGet(`${url}/health`);
  return answer.status === 200 ? JSON.parse(answer.body) : { status: `unreachable (${answer.status})` };
}

/** A WebSocket conversation as a client holds it: messages, audio received, the worker that took it. */
export class WsConversation {
  readonly messages: Record<string, unknown>[] = [];
  audioBytes = 0;
  worker: string | undefined;
  closedAt: number | undefined;
  readonly socket: WebSocket;
  readonly opened: Promise<void>;

  constructor(url: string, conversationId: string) {
    this.socket = new WebSocket(`${url.replace(/^http/, 'ws')}/ws?conversation=${conversationId}`);
    this.socket.on('upgrade', (response) => {
      this.worker = String(response.headers['x-repartee-worker'] ?? '');
    });
    this.socket.on('message', (data, isBinary) => {
      if (isBinary) this.audioBytes += (data as Buffer).length;
      else {
        const message = JSON.parse(data.toString());
        this.messages.push(message);
        if (message.type === 'ping') this.send({ type: 'pong', t: message.t });
      }
    });
    this.socket.on('error', () => undefined);
    this.socket.on('close', () => {
      this.closedAt = performance.now();
    });
    this.opened = new Promise((resolve, reject) => {
      this.socket.once('open', () => {
        this.send({ type: 'config', sampleRate: 16000 });
        resolve();
      });
      this.socket.once('unexpected-response', (_req, res) =>
        reject(new Error(`upgrade refused: ${res.statusCode}`)),
      );
      this.socket.once('error', reject);
    });
  }

  send(message: object): void {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  get closed(): boolean {
    return this.closedAt !== undefined;
  }

  async ready(timeoutMs = 60_000): Promise<void> {
    await this.opened;
    await waitFor('ready', () => this.messages.some((m) => m.type === 'ready'), timeoutMs);
  }

  /** Says `text` and resolves with the agent's reply once its speech ended (and audio was received). */
  async say(text: string, timeoutMs = 120_000): Promise<{ reply: string; audioBytes: number }> {
    const from = this.messages.length;
    const audioBefore = this.audioBytes;
    this.send({ type: 'text', text });
    await waitFor(
      `a reply to "${text}"`,
      () => {
        if (this.closed) throw new Error('the connection closed while waiting for a reply');
        return this.messages.slice(from).some((m) => m.type === 'speechEnded');
      },
      timeoutMs,
    );
    const ended = this.messages.slice(from).find((m) => m.type === 'speechEnded');
    return { reply: String(ended?.text ?? ''), audioBytes: this.audioBytes - audioBefore };
  }

  close(): void {
    this.socket.close();
  }
}
