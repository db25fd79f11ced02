/**
 * npm run bench -- --only scale (or tsx bench/scale.ts): scale-out figures on this machine with real processes —
 * redis-server, HAProxy and 1 or 2 `repartee worker`s (embedded stack, stories260K model), clients through HAProxy.
 *   - sessions per core: the most concurrent sessions whose replies keep p95 typed-message → first reply audio
 *     within --target-ms (every turn answered), for 1 and 2 workers (one core each), WebSocket and WebRTC apart;
 *   - dispatch latency: the registry's Lua pick in Redis, and connect → ready through HAProxy;
 *   - kill → ready → first reply: SIGKILL the worker holding a conversation; the client's notice, ready again on
 *     another worker, and the first reply audio there (p50/p95 over --kills trials).
 *   tsx bench/scale.ts [--steps 1,4,8,16,24,32] [--turns 2] [--target-ms 1500] [--kills 5] [--parts capacity,dispatch,kill]
 */
import { randomUUID } from 'node:crypto';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { ClusterRedis, DEFAULT_REDIS_OPTIONS } from '../src/cluster/redis.ts';
import { WorkerRegistry } from '../src/cluster/registry.ts';
import {
  freePort,
  type Proc,
  startHaproxy,
  startRedis,
  startWorker,
  type WorkerProc,
  WsConversation,
  waitFor,
} from '../test/cluster/harness.ts';
import { connectRtc } from '../test/cluster/rtc-client.ts';
import { percentile } from './scale-stats.ts';

type Transport = 'websocket' | 'webrtc';

interface Cluster {
  redis: Proc & { port: number };
  haproxy: Proc & { port: number; url: string };
  workers: WorkerProc[];
  stop(): Promise<void>;
}

async function startCluster(workerCount: number): Promise<Cluster> {
  const redis = await startRedis();
  const proxyPort = await freePort();
  const workers = await Promise.all(
    Array.from({ length: workerCount }, (_, i) =>
      startWorker({
        id: `s${i + 1}`,
        redisPort: redis.port,
        proxyPort,
        extraArgs: ['--max-sessions', '400'],
      }),
    ),
  );
  const haproxy = await startHaproxy(workers, proxyPort);
  return {
    redis,
    haproxy,
    workers,
    stop: async () => {
      await Promise.all([haproxy.kill('SIGTERM'), ...workers.map((w) => w.kill()), redis.kill()]);
    },
  };
}

const PROMPTS = [
  'Once upon a time there was a cat.',
  'What did the cat find?',
  'And then?',
  'Where did it go?',
];

/** One client: connect, `turns` typed messages one after another; each turn's message → first reply audio. */
async function client(url: string, transport: Transport, turns: number): Promise<number[]> {
  const id = randomUUID();
  const latencies: number[] = [];
  if (transport === 'websocket') {
    const c = new WsConversation(url, id);
    await c.ready(60_000);
    try {
      for (let t = 0; t < turns; t++) {
        const before = c.audioBytes;
        const sent = performance.now();
        const done = c.say(PROMPTS[t % PROMPTS.length]);
        await waitFor('first audio', () => c.audioBytes > before, 120_000);
        latencies.push(performance.now() - sent);
        await done;
      }
    } finally {
      c.close();
    }
  } else {
    const c = await connectRtc(url, id);
    try {
      for (let t = 0; t < turns; t++) {
        const before = c.packets();
        const sent = performance.now();
        const done = c.say(PROMPTS[t % PROMPTS.length]);
        await waitFor('first audio', () => c.packets() > before, 120_000);
        latencies.push(performance.now() - sent);
        await done;
      }
    } finally {
      await c.close();
    }
  }
  return latencies;
}

interface StepResult {
  sessions: number;
  p50Ms: number;
  p95Ms: number;
  failed: number;
}

async function capacity(
  workerCount: number,
  transport: Transport,
  steps: number[],
  turns: number,
  targetMs: number,
) {
  const cluster = await startCluster(workerCount);
  const results: StepResult[] = [];
  try {
    for (const sessions of steps) {
      const runs = await Promise.allSettled(
        Array.from({ length: sessions }, async (_, i) => {
          await new Promise((r) => setTimeout(r, (i * 1000) / sessions)); // arrivals spread over a second
          return client(cluster.haproxy.url, transport, turns);
        }),
      );
      const latencies = runs.flatMap((r) => (r.status === 'fulfilled' ? r.value : []));
      const failed = runs.filter((r) => r.status === 'rejected').length;
      const step = {
        sessions,
        p50Ms: Math.round(percentile(latencies, 50)),
        p95Ms: Math.round(percentile(latencies, 95)),
        failed,
      };
      results.push(step);
      console.log(`  ${workerCount} worker(s) ${transport} ${sessions} sessions: ${JSON.stringify(step)}`);
      if (failed > 0 || step.p95Ms > targetMs) break;
    }
  } finally {
    await cluster.stop();
  }
  const ok = results.filter((r) => r.failed === 0 && r.p95Ms <= targetMs).at(-1);
  return {
    workers: workerCount,
    transport,
    steps: results,
    sustained: ok?.sessions ?? 0,
    perCore: (ok?.sessions ?? 0) / workerCount,
  };
}

async function dispatch(samples: number) {
  const cluster = await startCluster(2);
  try {
    const redis = new ClusterRedis({
      ...DEFAULT_REDIS_OPTIONS,
      url: `redis://127.0.0.1:${cluster.redis.port}`,
    });
    await redis.connect();
    const registry = new WorkerRegistry(redis, 3_000);
    const picks: number[] = [];
    for (let i = 0; i < samples; i++) {
      const t = performance.now();
      await registry.pick();
      picks.push(performance.now() - t);
    }
    await redis.close();
    const connects: number[] = [];
    for (let i = 0; i < Math.min(samples, 30); i++) {
      const t = performance.now();
      const c = new WsConversation(cluster.haproxy.url, randomUUID());
      await c.ready();
      connects.push(performance.now() - t);
      c.close();
    }
    return {
      luaPickP50Ms: round(percentile(picks, 50)),
      luaPickP95Ms: round(percentile(picks, 95)),
      connectReadyP50Ms: Math.round(percentile(connects, 50)),
      connectReadyP95Ms: Math.round(percentile(connects, 95)),
      samples: { picks: picks.length, connects: connects.length },
    };
  } finally {
    await cluster.stop();
  }
}

async function kills(trials: number, transport: Transport) {
  const cluster = await startCluster(2);
  const noticed: number[] = [];
  const ready: number[] = [];
  const reply: number[] = [];
  try {
    for (let trial = 0; trial < trials; trial++) {
      const id = randomUUID();
      let holder: WorkerProc | undefined;
      let killedAt = 0;
      let noticedAt = 0;
      if (transport === 'websocket') {
        const first = new WsConversation(cluster.haproxy.url, id);
        await first.ready();
        await first.say(PROMPTS[0]);
        holder = cluster.workers.find((w) => w.id === first.worker);
        killedAt = performance.now();
        await holder?.kill('SIGKILL');
        await waitFor('noticed', () => first.closed, 60_000);
        noticedAt = first.closedAt ?? performance.now();
      } else {
        const first = await connectRtc(cluster.haproxy.url, id);
        await first.say(PROMPTS[0]);
        holder = cluster.workers.find((w) => w.id === first.worker);
        killedAt = performance.now();
        await holder?.kill('SIGKILL');
        await waitFor('noticed', () => first.lostAt() !== undefined, 60_000);
        noticedAt = first.lostAt() ?? performance.now();
        await first.close();
      }
      // Reconnect at once, as the page does (a dead worker HAProxy has not marked down yet is retried).
      let readyAt = 0;
      let firstAudioAt = 0;
      for (let attempt = 0; attempt < 50 && !readyAt; attempt++) {
        try {
          if (transport === 'websocket') {
            const again = new WsConversation(cluster.haproxy.url, id);
            await again.ready(30_000);
            readyAt = performance.now();
            const before = again.audioBytes;
            const done = again.say(PROMPTS[1]);
            await waitFor('first audio', () => again.audioBytes > before, 120_000);
            firstAudioAt = performance.now();
            await done;
            again.close();
          } else {
            const again = await connectRtc(cluster.haproxy.url, id);
            readyAt = performance.now();
            const before = again.packets();
            const done = again.say(PROMPTS[1]);
            await waitFor('first audio', () => again.packets() > before, 120_000);
            firstAudioAt = performance.now();
            await done;
            await again.close();
          }
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      noticed.push(noticedAt - killedAt);
      ready.push(readyAt - killedAt);
      reply.push(firstAudioAt - killedAt);
      console.log(
        `  kill ${transport} #${trial + 1}: noticed ${Math.round(noticedAt - killedAt)} ms, ready ${Math.round(readyAt - killedAt)} ms, first reply audio ${Math.round(firstAudioAt - killedAt)} ms`,
      );
      // The slot is started again (not timed).
      if (holder) {
        const fresh = await startWorker({
          id: holder.id,
          redisPort: cluster.redis.port,
          port: holder.port,
          agentPort: holder.agentPort,
          proxyPort: cluster.haproxy.port,
        });
        cluster.workers = cluster.workers.map((w) => (w === holder ? fresh : w));
      }
    }
  } finally {
    await cluster.stop();
  }
  const p = (list: number[]) => ({
    p50Ms: Math.round(percentile(list, 50)),
    p95Ms: Math.round(percentile(list, 95)),
  });
  return { transport, trials, noticed: p(noticed), ready: p(ready), firstReply: p(reply) };
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

export async function runScaleBench(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: false,
    options: {
      steps: { type: 'string' },
      turns: { type: 'string' },
      'target-ms': { type: 'string' },
      kills: { type: 'string' },
      parts: { type: 'string' },
    },
  });
  const steps = String(values.steps ?? '1,4,8,16,24,32,48')
    .split(',')
    .map(Number);
  const turns = Number(values.turns ?? 2);
  const targetMs = Number(values['target-ms'] ?? 1500);
  const trials = Number(values.kills ?? 5);
  const parts = new Set(String(values.parts ?? 'capacity,dispatch,kill').split(','));
  const out: Record<string, unknown> = {
    machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
    date: new Date().toISOString(),
    workload: `typed message -> reply (stories260K, local TTS), ${turns} turns per session, target p95 first audio <= ${targetMs} ms`,
  };
  if (parts.has('dispatch')) {
    console.log('dispatch latency…');
    out.dispatch = await dispatch(1000);
    console.log(`  ${JSON.stringify(out.dispatch)}`);
  }
  if (parts.has('kill')) {
    console.log('kill -> ready -> first reply…');
    out.kill = [await kills(trials, 'websocket'), await kills(trials, 'webrtc')];
  }
  if (parts.has('capacity')) {
    console.log('sessions per core…');
    const capacityResults = [];
    for (const transport of ['websocket', 'webrtc'] as const)
      for (const workers of [1, 2])
        capacityResults.push(await capacity(workers, transport, steps, turns, targetMs));
    out.capacity = capacityResults;
  }
  console.log('\nRESULTS');
  console.log(JSON.stringify(out, null, 2));
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runScaleBench(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
