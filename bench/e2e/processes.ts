/**
 * Starts the bench's server and client processes (tsx-loaded Node, forked with IPC) and talks to them: the
 * server's address and stats, the client's scenario and result. Each runs in its own process so their CPU
 * and memory are measured apart.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type {
  ClientProcessMessage,
  ClientResult,
  ClientScenario,
  ServerProcessMessage,
  ServerSpec,
  ServerStats,
} from './ipc.ts';

const SERVER_ENTRY = fileURLToPath(new URL('./server.ts', import.meta.url));
const CLIENT_ENTRY = fileURLToPath(new URL('./client.ts', import.meta.url));
/** REPARTEE_BENCH_CPU_PROF=<dir> writes a V8 CPU profile of each server and client process there. */
const CPU_PROF_DIR = process.env.REPARTEE_BENCH_CPU_PROF;
const EXEC_ARGV = [
  '--import',
  'tsx',
  ...(CPU_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF_DIR}`] : []),
];

function forkTs(
  entry: string,
  args: string[],
  nodeArgs: string[] = [],
): { child: ChildProcess; stderr: () => string } {
  const child = fork(entry, args, {
    execArgv: [...EXEC_ARGV, ...nodeArgs],
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  return { child, stderr: () => stderr };
}

export interface ServerProcess {
  url: string;
  pid: number;
  description: string;
  /** `gc`: run a full garbage collection first (the server runs with --expose-gc). */
  stats(gc?: boolean): Promise<ServerStats>;
  close(): Promise<void>;
}

export async function startServerProcess(spec: ServerSpec, startTimeoutMs = 180_000): Promise<ServerProcess> {
  const { child, stderr } = forkTs(SERVER_ENTRY, [JSON.stringify(spec)], ['--expose-gc']);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const statsWaiters: ((stats: ServerStats) => void)[] = [];
  const listening = await new Promise<{ url: string; description: string }>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start within ${startTimeoutMs} ms\n${stderr()}`));
    }, startTimeoutMs);
    child.on('message', (message: ServerProcessMessage) => {
      if (message.type === 'listening') {
        clearTimeout(timer);
        resolve(message);
      } else if (message.type === 'failed') {
        clearTimeout(timer);
        reject(new Error(`server failed to start: ${message.message}`));
      } else if (message.type === 'stats') {
        statsWaiters.shift()?.(message.stats);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code}) before listening\n${stderr()}`));
    });
  });
  return {
    ...listening,
    pid: child.pid ?? -1,
    stats: (gc = false) =>
      new Promise((resolve, reject) => {
        if (!child.connected) return reject(new Error(`server process is gone\n${stderr()}`));
        statsWaiters.push(resolve);
        child.send({ type: 'stats', gc });
      }),
    close: async () => {
      if (child.connected) child.send({ type: 'close' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface ClientRun {
  result: ClientResult;
  /** Server stats sampled while the sessions were running, in order. */
  samples: { atMs: number; stats: ServerStats }[];
  /** CPU used by every process on the machine over the run, in % of one core; null where /proc is missing. */
  machineCpuPercent: number | null;
}

/** Busy CPU time of the whole machine so far, in ms (Linux /proc/stat; USER_HZ is 100 on Linux). */
export function machineBusyMs(): number | null {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, , , irq, softirq, steal] = fields;
    return (user + nice + system + irq + softirq + (steal ?? 0)) * 10;
  } catch {
    return null;
  }
}

/**
 * Runs one scenario in a fresh client process, sampling the server every `sampleEveryMs` from the moment all
 * sessions are connected until the result arrives.
 */
export async function runClient(
  scenario: ClientScenario,
  server: ServerProcess,
  options: {
    sampleEveryMs?: number;
    timeoutMs: number;
    /** Collect garbage in the server before each sample (a soak: the heap then shows what is retained). */
    gcBeforeSample?: boolean;
    onSample?: (atMs: number, stats: ServerStats) => void;
  },
): Promise<ClientRun> {
  const { child, stderr } = forkTs(CLIENT_ENTRY, []);
  const samples: ClientRun['samples'] = [];
  let sampler: NodeJS.Timeout | undefined;
  let t0 = performance.now();
  let busy0: number | null = null;
  const startSampling = async () => {
    t0 = performance.now();
    busy0 = machineBusyMs();
    const take = async () => {
      const stats = await server.stats(options.gcBeforeSample);
      const atMs = performance.now() - t0;
      samples.push({ atMs, stats });
      options.onSample?.(atMs, stats);
    };
    await take();
    sampler = setInterval(() => void take().catch(() => undefined), options.sampleEveryMs ?? 1000);
  };
  try {
    const result = await new Promise<ClientResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`client did not finish within ${options.timeoutMs} ms\n${stderr()}`));
      }, options.timeoutMs);
      child.on('message', (message: ClientProcessMessage) => {
        if (message.type === 'running') void startSampling();
        else if (message.type === 'result') {
          clearTimeout(timer);
          resolve(message.result);
        } else {
          clearTimeout(timer);
          reject(new Error(`client failed: ${message.message}`));
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`client exited (${code}) without a result\n${stderr()}`));
      });
      child.send({ type: 'run', scenario });
    });
    // One last sample at the end of the run: CPU is measured over the whole window.
    const busy1 = machineBusyMs();
    const wallMs = performance.now() - t0;
    samples.push({ atMs: wallMs, stats: await server.stats() });
    const machineCpuPercent =
      busy0 !== null && busy1 !== null && wallMs > 0
        ? Math.round(((busy1 - busy0) / wallMs) * 1000) / 10
        : null;
    return { result, samples, machineCpuPercent };
  } finally {
    if (sampler) clearInterval(sampler);
    if (child.exitCode === null) child.kill();
  }
}
