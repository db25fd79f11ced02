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
  health,
  type Proc,
  startHaproxy,
  startRedis,
  startWorker,
  type WorkerProc,
  WsConversation,
  waitFor,
} from './harness.ts';

let redis: Proc & { port: number };
let haproxy: Proc & { port: number; url: string };
let workers: WorkerProc[] = [];
let db: Redis;

beforeAll(async () => {
  redis = await startRedis();
  db = new Redis({ port: redis.port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1 });
  db.on('error', () => undefined);
  await db.connect();
  workers = await Promise.all(['w1', 'w2', 'w3'].map((id) => startWorker({ id, redisPort: redis.port })));
  haproxy = await startHaproxy(workers);
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
  }, 400_000);
});
