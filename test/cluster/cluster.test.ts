/**
 * Scale-out on this machine: redis-server, HAProxy and three `repartee worker` processes (the embedded stack with
 * the tiny stories260K model), conversations over WebSocket and WebRTC through HAProxy. A worker is killed
 * mid-conversation, another drained, another cut off from its conversation; Redis is restarted, unreachable at a
 * worker's start, and a worker's clock is off.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  freePort,
  health,
  type Proc,
  startHaproxy,
  startRedis,
  startWorker,
  type WorkerProc,
  WsConversation,
  waitFor,
} from './harness.ts';
import { connectRtc } from './rtc-client.ts';

let redis: Proc & { port: number };
let haproxy: Proc & { port: number; url: string };
let workers: WorkerProc[] = [];
let db: Redis;

beforeAll(async () => {
  redis = await startRedis();
  db = new Redis({ port: redis.port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1 });
  db.on('error', () => undefined);
  await db.connect();
  const proxyPort = await freePort();
  workers = await Promise.all(
    ['w1', 'w2', 'w3'].map((id) => startWorker({ id, redisPort: redis.port, proxyPort })),
  );
  haproxy = await startHaproxy(workers, proxyPort);
}, 300_000);

afterAll(async () => {
  db?.disconnect();
  await Promise.all([haproxy?.kill('SIGTERM'), ...workers.map((w) => w.kill()), redis?.kill()]);
});

const workerById = (id: string | undefined) => workers.find((w) => w.id === id);

async function storedItems(
  conversationId: string,
): Promise<{ role: string; content: string; worker: string }[]> {
  return (await db.lrange(`repartee:conv:${conversationId}:items`, 0, -1)).map((text) => JSON.parse(text));
}

/** Connects through HAProxy until a worker takes it (a dead or draining one may answer first: a client retries). */
async function connect(conversationId: string, avoid?: string): Promise<WsConversation> {
  let last: unknown;
  for (let attempt = 0; attempt < 40; attempt++) {
    const conversation = new WsConversation(haproxy.url, conversationId);
    try {
      await conversation.ready(60_000);
      if (avoid && conversation.worker === avoid) throw new Error(`landed on ${avoid} again`);
      return conversation;
    } catch (error) {
      last = error;
      conversation.socket.terminate();
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(`no worker took the conversation: ${String(last)}`);
}

describe('cluster: workers behind HAProxy, conversations in Redis', () => {
  it('WebSocket: a worker killed mid-conversation; the client notices, resumes on another with its history and hears the next reply', async () => {
    const id = randomUUID();
    const first = await connect(id);
    const owner = workerById(first.worker);
    expect(owner, `X-Repartee-Worker: ${first.worker}`).toBeDefined();
    const one = await first.say('Once upon a time there was a little cat.');
    expect(one.audioBytes).toBeGreaterThan(0);
    await waitFor('the first turn stored', async () => (await storedItems(id)).length >= 2, 30_000);
    const before = await storedItems(id);
    expect(before.map((i) => i.role)).toEqual(['user', 'assistant']);

    await owner!.kill('SIGKILL');
    await waitFor('the client noticed', () => first.closed, 30_000);
    const second = await connect(id, owner!.id);
    expect(second.worker).not.toBe(owner!.id);
    const two = await second.say('And what did the cat do next?');
    expect(two.audioBytes).toBeGreaterThan(0);

    await waitFor('the second turn stored', async () => (await storedItems(id)).length >= 4, 30_000);
    const after = await storedItems(id);
    // The history is intact: the first turn as the first worker stored it, then the new worker's turn after it.
    expect(after.slice(0, 2)).toEqual(before);
    expect(after.slice(2).map((i) => [i.role, i.worker])).toEqual([
      ['user', second.worker],
      ['assistant', second.worker],
    ]);
    expect(after[2].content).toBe('And what did the cat do next?');
    const resumedOn = workerById(second.worker)!;
    expect(resumedOn.output).toMatch(new RegExp(`"conversation":"${id}".*"items":2.*conversation resumed`));
    second.close();
    await restart(owner!);
  }, 400_000);

  it('WebRTC: a worker killed mid-conversation; the client notices, resumes on another and hears the next reply; DELETE goes to the owner', async () => {
    const id = randomUUID();
    const first = await connectRtcRetrying(id);
    const owner = workerById(first.worker);
    expect(owner, `X-Repartee-Worker: ${first.worker}`).toBeDefined();
    // The session's URL names its worker, so the hang-up reaches the worker that holds the session.
    expect(first.location).toMatch(new RegExp(`^/rtc/w/${owner!.id}/sessions/[\\w-]+$`));
    const one = await first.say('Once upon a time there was a big dog.');
    expect(one.packets).toBeGreaterThan(0);
    await waitFor('the first turn stored', async () => (await storedItems(id)).length >= 2, 30_000);
    const before = await storedItems(id);

    await owner!.kill('SIGKILL');
    await waitFor('the client noticed', () => first.lostAt() !== undefined, 30_000);
    await first.close();
    const second = await connectRtcRetrying(id, owner!.id);
    const two = await second.say('What did the dog find?');
    expect(two.packets).toBeGreaterThan(0);
    await waitFor('the second turn stored', async () => (await storedItems(id)).length >= 4, 30_000);
    const after = await storedItems(id);
    expect(after.slice(0, 2)).toEqual(before);
    expect(after.slice(2).map((i) => [i.role, i.worker])).toEqual([
      ['user', second.worker],
      ['assistant', second.worker],
    ]);

    // DELETE through HAProxy: a path naming another worker finds no such session there; its own ends it.
    const other = workers.find((w) => w.alive && w.id !== second.worker)!;
    const wrong = await fetch(
      `${haproxy.url}${second.location.replace(`/w/${second.worker}/`, `/w/${other.id}/`)}`,
      {
        method: 'DELETE',
      },
    );
    expect(wrong.status).toBe(404);
    const right = await fetch(`${haproxy.url}${second.location}`, { method: 'DELETE' });
    expect(right.status).toBe(204);
    await waitFor(
      'the session ended on its worker',
      async () => (await health(workerById(second.worker)!.url)).sessions === 0,
      30_000,
    );
    await second.close();
    await restart(owner!);
  }, 400_000);

  it("a cut-off worker's late writes are refused: the conversation moved to another worker, which owns it now", async () => {
    const id = randomUUID();
    const onA = await connect(id);
    const a = workerById(onA.worker)!;
    await onA.say('Once upon a time there was a small bird.');
    await waitFor('stored', async () => (await storedItems(id)).length >= 2, 30_000);
    // The client's path to A broke; it reconnected straight to B (A did not notice: its socket stays open).
    const b = workers.find((w) => w.alive && w.id !== a.id)!;
    const onB = new WsConversation(b.url, id);
    await onB.ready();
    expect(await db.hget(`repartee:conv:${id}:owner`, 'owner')).toBe(b.id);
    // A, cut off, still has a turn to write: Redis refuses it.
    const mark = a.output.length;
    await onA.say('The bird flew away.');
    await waitFor('the refusal logged', () => /late write refused/.test(a.output.slice(mark)), 30_000);
    await onB.say('Where did the bird go?');
    await waitFor('B stored its turn', async () => (await storedItems(id)).length >= 4, 30_000);
    const items = await storedItems(id);
    expect(items.map((i) => i.worker)).toEqual([a.id, a.id, b.id, b.id]);
    expect(items.map((i) => i.content)).not.toContain('The bird flew away.');
    onA.close();
    onB.close();
  }, 400_000);

  it('a drained worker takes no new session, lets its conversation finish, stores every item and exits', async () => {
    const id = randomUUID();
    const live = await connect(id);
    const drained = workerById(live.worker)!;
    await live.say('Once upon a time there was a fish.');
    drained.child.kill('SIGTERM');
    await waitFor('draining', async () => (await health(drained.url)).cluster?.draining === true, 30_000);
    // New conversations go elsewhere (a client told 503 "draining" before HAProxy read the agent retries).
    for (let i = 0; i < 3; i++) {
      const fresh = await connect(randomUUID(), drained.id);
      expect(fresh.worker).not.toBe(drained.id);
      fresh.close();
    }
    // The live conversation goes on.
    const more = await live.say('What did the fish eat?');
    expect(more.audioBytes).toBeGreaterThan(0);
    expect(drained.alive).toBe(true);
    live.close();
    await drained.exited;
    expect(drained.exit?.code).toBe(0);
    expect(drained.output).toMatch(/"leftSessions":0.*drained/);
    const items = await storedItems(id);
    expect(items.map((i) => i.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
    await restart(drained);
  }, 400_000);

  it('Redis restarting: the conversation goes on degraded (said in /health and the log), then is stored again', async () => {
    const id = randomUUID();
    const conversation = await connect(id);
    const worker = workerById(conversation.worker)!;
    await conversation.say('Once upon a time there was a frog.');
    await waitFor('stored', async () => (await storedItems(id)).length >= 2, 30_000);
    await redis.kill('SIGKILL');
    await waitFor(
      'degraded in /health',
      async () => /Redis/.test((await health(worker.url)).reason ?? ''),
      30_000,
    );
    expect((await health(worker.url)).status).toBe('degraded');
    expect(worker.output).toMatch(/cluster degraded: Redis unreachable/);
    const degraded = await conversation.say('What did the frog say?');
    expect(degraded.audioBytes).toBeGreaterThan(0);
    redis = await startRedis(redis.port);
    await waitFor('ok again', async () => (await health(worker.url)).cluster?.resume === true, 60_000);
    // Everything said, before and during the outage, is written again (Redis came back empty).
    await waitFor('re-stored', async () => (await storedItems(id).catch(() => [])).length >= 4, 60_000);
    expect((await storedItems(id)).map((i) => i.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
    conversation.close();
  }, 400_000);

  it('Redis unreachable at start, and a clock off by 30 s: the worker serves, degraded, and says so', async () => {
    const nowhere = await freePort();
    const [blind, skewed] = await Promise.all([
      startWorker({ id: 'blind', redisPort: nowhere }),
      startWorker({ id: 'skewed', redisPort: redis.port, faketime: '+30s' }),
    ]);
    extra.push(blind, skewed);
    const blindHealth = await health(blind.url);
    expect(blindHealth.status).toBe('degraded');
    expect(blindHealth.cluster?.resume).toBe(false);
    expect(blind.output).toMatch(/cluster degraded: Redis unreachable/);
    await waitFor(
      'skew measured',
      async () => /clock skew/.test((await health(skewed.url)).reason ?? ''),
      30_000,
    );
    expect((await health(skewed.url)).cluster?.clockSkewMs).toBeLessThan(-25_000);
    expect(skewed.output).toMatch(/cluster degraded: this clock disagrees with Redis/);
    for (const worker of [blind, skewed]) {
      const id = randomUUID();
      const conversation = new WsConversation(worker.url, id);
      await conversation.ready();
      const reply = await conversation.say('Once upon a time there was a mouse.');
      expect(reply.audioBytes).toBeGreaterThan(0);
      expect(await storedItems(id)).toEqual([]); // degraded: not stored, not resumable
      conversation.close();
    }
  }, 400_000);
});

const extra: WorkerProc[] = [];
afterAll(async () => {
  await Promise.all(extra.map((w) => w.kill()));
});

/** The same worker slot (id and ports HAProxy knows) started again. */
async function restart(old: WorkerProc): Promise<void> {
  await old.kill();
  const fresh = await startWorker({
    id: old.id,
    redisPort: redis.port,
    port: old.port,
    agentPort: old.agentPort,
    proxyPort: haproxy.port,
  });
  workers = workers.map((w) => (w === old ? fresh : w));
}

async function connectRtcRetrying(id: string, avoid?: string) {
  let last: unknown;
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      const conversation = await connectRtc(haproxy.url, id);
      if (avoid && conversation.worker === avoid) {
        await conversation.close();
        throw new Error(`landed on ${avoid} again`);
      }
      return conversation;
    } catch (error) {
      last = error;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(`no worker took the WebRTC conversation: ${String(last)}`);
}
