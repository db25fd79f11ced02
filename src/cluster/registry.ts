import type { ClusterRedis } from './redis.ts';

/** What a worker reports with every heartbeat. */
export interface WorkerLoad {
  sessions: number;
  maxSessions: number;
  /** This process's CPU use since the last heartbeat, 0..1 of one core. */
  cpu: number;
  /** The largest event-loop lag within the last window, ms. */
  eventLoopLagMs: number;
  draining: boolean;
}

export interface WorkerInfo {
  id: string;
  /** Where clients reach this worker directly (its HTTP address). */
  url: string;
  /** HAProxy's agent-check port, when it has one. */
  agentPort?: number;
}

/**
 * One number for "how busy": the worst of sessions over capacity, CPU over one core and event-loop lag over the
 * lag a conversation starts to hear (lagBudgetMs). 0 idle, 1 full.
 */
export function loadScore(load: WorkerLoad, lagBudgetMs = 250): number {
  const sessions = load.maxSessions > 0 ? load.sessions / load.maxSessions : 1;
  return Math.min(1, Math.max(sessions, load.cpu, load.eventLoopLagMs / lagBudgetMs));
}

/**
 * The worker registry in Redis: a sorted set of worker ids scored by when each one's heartbeat lapses (Redis's
 * clock), and a hash per worker with its address and load. A worker that stops beating is forgotten by the next
 * reader once its time is up; `pick` chooses the least-loaded live worker in one Lua script.
 */
export class WorkerRegistry {
  constructor(
    private readonly redis: ClusterRedis,
    private readonly ttlMs: number,
  ) {}

  private get workersKey(): string {
    return this.redis.key('workers');
  }

  private get hashPrefix(): string {
    return this.redis.key('worker', '');
  }

  /** Registers or refreshes the worker; returns Redis's time of the beat. */
  async heartbeat(worker: WorkerInfo, load: WorkerLoad): Promise<number> {
    const fields: (string | number)[] = [
      'url',
      worker.url,
      'agentPort',
      worker.agentPort ?? 0,
      'sessions',
      load.sessions,
      'maxSessions',
      load.maxSessions,
      'cpu',
      round(load.cpu),
      'eventLoopLagMs',
      round(load.eventLoopLagMs),
      'load',
      round(loadScore(load)),
      'draining',
      load.draining ? 1 : 0,
    ];
    return this.redis.client.rpHeartbeat(
      this.workersKey,
      this.hashPrefix + worker.id,
      worker.id,
      this.ttlMs,
      ...fields,
    );
  }

  /** Leaves at once (a clean shutdown), rather than when the heartbeat lapses. */
  async remove(id: string): Promise<void> {
    await this.redis.client
      .multi()
      .zrem(this.workersKey, id)
      .del(this.hashPrefix + id)
      .exec();
  }

  /** The least-loaded live worker with room that is not draining, or undefined. */
  async pick(): Promise<{ id: string; url: string } | undefined> {
    const picked = await this.redis.client.rpPick(this.workersKey, this.hashPrefix);
    return picked ? { id: picked[0], url: picked[1] } : undefined;
  }

  /** Live workers with their last reported load. */
  async live(): Promise<(WorkerInfo & { load: number; sessions: number; draining: boolean })[]> {
    const ids = await this.redis.client.rpLive(this.workersKey, this.hashPrefix);
    const out = [];
    for (const id of ids) {
      const h = await this.redis.client.hgetall(this.hashPrefix + id);
      out.push({
        id,
        url: h.url ?? '',
        agentPort: Number(h.agentPort) || undefined,
        load: Number(h.load),
        sessions: Number(h.sessions),
        draining: h.draining === '1',
      });
    }
    return out;
  }
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
