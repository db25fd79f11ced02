/** The worker registry's Lua scripts against a real redis-server: least-loaded pick, draining, lapse, bursts. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentCheck } from '../../src/cluster/agent-check.ts';
import { haproxyConfig } from '../../src/cluster/haproxy.ts';
import { ClusterRedis, DEFAULT_REDIS_OPTIONS } from '../../src/cluster/redis.ts';
import { type WorkerLoad, WorkerRegistry } from '../../src/cluster/registry.ts';
import { type Proc, startRedis, waitFor } from './harness.ts';

let redis: Proc & { port: number };
let client: ClusterRedis;

beforeAll(async () => {
  redis = await startRedis();
  client = new ClusterRedis({
    ...DEFAULT_REDIS_OPTIONS,
    url: `redis://127.0.0.1:${redis.port}`,
    prefix: 'reg:',
  });
  expect(await client.connect()).toBe('ok');
}, 60_000);
afterAll(async () => {
  await client?.close();
  await redis?.kill();
});

const load = (sessions: number, extra: Partial<WorkerLoad> = {}): WorkerLoad => ({
  sessions,
  maxSessions: 10,
  cpu: 0,
  eventLoopLagMs: 0,
  draining: false,
  ...extra,
});

describe('worker registry', () => {
  it('picks the least-loaded live worker, never a draining or full one, and spreads a burst', async () => {
    const registry = new WorkerRegistry(client, 60_000);
    await registry.heartbeat({ id: 'a', url: 'http://a' }, load(5));
    await registry.heartbeat({ id: 'b', url: 'http://b' }, load(2));
    await registry.heartbeat({ id: 'c', url: 'http://c' }, load(0, { draining: true }));
    await registry.heartbeat({ id: 'd', url: 'http://d' }, load(10));
    expect(await registry.pick()).toEqual({ id: 'b', url: 'http://b' });
    // Each pick reserves a place until the next heartbeat: b (2 + reserved) climbs to a's 5, then they alternate.
    const picks = [];
    for (let i = 0; i < 6; i++) picks.push((await registry.pick())?.id);
    expect(picks.filter((id) => id === 'b').length).toBeGreaterThanOrEqual(2);
    expect(picks).toContain('a');
    expect(picks).not.toContain('c');
    expect(picks).not.toContain('d');
    // CPU and event-loop lag count as load too.
    await registry.heartbeat({ id: 'a', url: 'http://a' }, load(0, { cpu: 0.9 }));
    await registry.heartbeat({ id: 'b', url: 'http://b' }, load(0, { eventLoopLagMs: 200 }));
    await registry.heartbeat({ id: 'd', url: 'http://d' }, load(3));
    expect((await registry.pick())?.id).toBe('d');
    for (const id of ['a', 'b', 'c', 'd']) await registry.remove(id);
    expect(await registry.pick()).toBeUndefined();
  });

  it('forgets a worker whose heartbeat lapsed', async () => {
    const registry = new WorkerRegistry(client, 300);
    await registry.heartbeat({ id: 'gone', url: 'http://gone' }, load(0));
    expect((await registry.live()).map((w) => w.id)).toEqual(['gone']);
    await waitFor('the lapse', async () => (await registry.live()).length === 0, 10_000);
    expect(await registry.pick()).toBeUndefined();
    expect(await client.client.exists('reg:worker:gone')).toBe(0);
  });
});

describe('HAProxy agent-check and configuration', () => {
  it('answers the weight from the load, and drain while draining or full', async () => {
    let state = { load: 0.25, draining: false, full: false };
    const agent = new AgentCheck(() => state);
    expect(agent.line()).toBe('ready up 75%\n');
    state = { load: 1, draining: false, full: false };
    expect(agent.line()).toBe('ready up 1%\n');
    state = { load: 0.1, draining: true, full: false };
    expect(agent.line()).toBe('drain\n');
    state = { load: 0.1, draining: false, full: true };
    expect(agent.line()).toBe('drain\n');
  });

  it('generates a configuration HAProxy accepts, and refuses bad worker names', () => {
    const text = haproxyConfig({
      bind: '127.0.0.1:8080',
      workers: [
        { name: 'w1', host: '127.0.0.1', port: 8081, agentPort: 8181 },
        { name: 'w2', host: '10.0.0.2', port: 8081, agentPort: 8181 },
      ],
    });
    const file = join(mkdtempSync(join(tmpdir(), 'haproxy-cfg-')), 'haproxy.cfg');
    writeFileSync(file, text);
    const check = spawnSync('haproxy', ['-c', '-f', file], { encoding: 'utf8' });
    expect(check.status, check.stderr + check.stdout).toBe(0);
    expect(text).toMatch(/use-server w2 if \{ var\(txn.owner\) -m str w2 \}/);
    expect(() =>
      haproxyConfig({ bind: ':80', workers: [{ name: 'a b', host: 'x', port: 1, agentPort: 2 }] }),
    ).toThrow(/bad worker name/);
  });
});
