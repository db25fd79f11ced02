import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { haproxyConfig } from '../cluster/haproxy.ts';
import { ClusterNode, DEFAULT_CLUSTER } from '../cluster/node.ts';
import { workerPorts } from '../cluster/ports.ts';
import { type LoadConfigOptions, loadConfig } from '../config/config.ts';
import { createLogger } from './log.ts';
import { runServe } from './serve.ts';

export interface WorkerFlags {
  redis?: string;
  workerId?: string;
  agentPort?: number;
  advertiseUrl?: string;
}

/**
 * `repartee worker`: `repartee serve` plus membership of the cluster (src/cluster/node.ts): registered in Redis
 * with its load, HAProxy's agent-check, every conversation stored as it happens and resumable on another worker.
 * SIGTERM drains: no new sessions, the live ones finish, everything is written, then it exits.
 */
export async function runWorker(configOptions: LoadConfigOptions, flags: WorkerFlags): Promise<number> {
  const config = await loadConfig(configOptions);
  const cluster = config.cluster;
  const redisUrl = flags.redis ?? cluster?.redisUrl ?? process.env.REPARTEE_REDIS_URL;
  if (!redisUrl) throw new Error('repartee worker needs --redis redis://host:port (or cluster.redisUrl)');
  let node: ClusterNode | undefined;
  return runServe(configOptions, {
    wrapCreateSession: (create) => (request) =>
      node ? node.createSession(create)(request) : create(request),
    healthExtra: () => ({ ...(node?.health() ?? { reason: 'cluster: starting' }) }),
    started: async (running, log) => {
      const port = new URL(running.url).port;
      node = new ClusterNode(
        {
          ...DEFAULT_CLUSTER,
          ...Object.fromEntries(Object.entries(cluster ?? {}).filter(([, v]) => v !== undefined)),
          redisUrl,
          workerId: flags.workerId ?? cluster?.workerId ?? `${hostname()}-${port}`,
          url: flags.advertiseUrl ?? cluster?.advertiseUrl ?? running.url,
          agentPort: flags.agentPort ?? cluster?.agentPort,
          agentHost: config.server.host,
        },
        log,
      );
      const { agentPort } = await node.start({
        sessions: () => running.sessions(),
        maxSessions: () => running.health().maxSessions,
        eventLoopLagMs: () => running.health().eventLoopLagMs,
      });
      log.info(
        { worker: node.options.workerId, agentPort, redis: node.redis.state },
        'repartee worker registered',
      );
    },
    stopping: async (running) => {
      if (!node) return;
      running.drain();
      const log = createLogger();
      log.info({ worker: node.options.workerId, sessions: running.sessions() }, 'draining: no new sessions');
      const { leftSessions } = await node.drain(() => running.sessions());
      log.info({ worker: node.options.workerId, leftSessions }, 'drained');
      await node.close();
    },
  });
}

/**
 * `repartee serve --workers N` on one machine: N worker processes (each its own UDP sockets; `node:cluster`
 * would share them and the workers would steal each other's packets) on ports port+1…port+N, and HAProxy on
 * `port` in front when it is installed. SIGTERM drains every worker, then stops HAProxy.
 */
export async function runWorkers(argv: string[], count: number, port: number, host: string): Promise<number> {
  const log = createLogger();
  const ports = workerPorts(port, count);
  const passed = stripFlags(argv, ['--workers', '--port', '--agent-port', '--worker-id', '--allowed-hosts']);
  // The page comes through HAProxy on `port`: that origin is each worker's own page too (plain http here;
  // a TLS proxy in front is named in --allowed-hosts as usual).
  const given = flagValue(argv, '--allowed-hosts');
  const proxyName = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
  const allowed = [
    ...(given ? given.split(',') : []),
    `http://${proxyName}:${port}`,
    `http://localhost:${port}`,
  ];
  passed.push('--allowed-hosts', [...new Set(allowed)].join(','));
  const children = new Set<ChildProcess>();
  let stopping = false;
  const startWorker = (i: number) => {
    const { port: wport, agentPort } = ports[i];
    const args = [
      process.argv[1],
      'worker',
      ...passed,
      '--port',
      String(wport),
      '--agent-port',
      String(agentPort),
    ];
    args.push('--worker-id', `${hostname()}-w${i + 1}`);
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    children.add(child);
    child.once('exit', (code, signal) => {
      children.delete(child);
      if (stopping) return;
      log.warn({ worker: i + 1, code, signal }, 'worker exited: starting it again');
      setTimeout(() => startWorker(i), 1_000).unref();
    });
  };
  for (let i = 0; i < count; i++) startWorker(i);
  let haproxy: ChildProcess | undefined;
  if (spawnSync('haproxy', ['-v']).status === 0) {
    const dir = mkdtempSync(join(tmpdir(), 'repartee-haproxy-'));
    const file = join(dir, 'haproxy.cfg');
    const workers = ports.map((p, i) => ({ name: `w${i + 1}`, host: '127.0.0.1', ...p }));
    writeFileSync(file, haproxyConfig({ bind: `${host}:${port}`, workers }));
    haproxy = spawn('haproxy', ['-W', '-db', '-f', file], { stdio: ['ignore', 'inherit', 'inherit'] });
    log.info({ config: file, port }, 'HAProxy in front of the workers');
  } else {
    log.warn(
      { ports: ports.map((p) => p.port) },
      'haproxy is not installed: reach the workers on their own ports',
    );
  }
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  stopping = true;
  const exited = [...children].map((child) => new Promise((resolve) => child.once('exit', resolve)));
  for (const child of children) child.kill('SIGTERM');
  await Promise.all(exited);
  haproxy?.kill('SIGTERM');
  return 0;
}

function flagValue(argv: string[], flag: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === flag) return argv[i + 1];
    if (argv[i].startsWith(`${flag}=`)) return argv[i].slice(flag.length + 1);
  }
  return undefined;
}

function stripFlags(argv: string[], flags: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const [name] = argv[i].split('=');
    if (flags.includes(name)) {
      if (!argv[i].includes('=')) i++;
      continue;
    }
    if (argv[i] === 'serve') continue;
    out.push(argv[i]);
  }
  return out;
}
