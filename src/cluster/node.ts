import { cpuUsage } from 'node:process';
import type { AgentSession } from '../agent/session.ts';
import { AgentCheck } from './agent-check.ts';
import { ConversationRecorder, ConversationStore, restoreHistory } from './conversations.ts';
import { ClusterRedis, DEFAULT_REDIS_OPTIONS, type RedisState } from './redis.ts';
import { loadScore, type WorkerLoad, WorkerRegistry } from './registry.ts';

export interface ClusterNodeOptions {
  redisUrl: string;
  workerId: string;
  /** This worker's own HTTP address, as others reach it. */
  url: string;
  /** HAProxy agent-check port (0: any free port; undefined: none). */
  agentPort?: number;
  agentHost?: string;
  heartbeatMs: number;
  /** A worker whose heartbeat is older than this is gone. */
  workerTtlMs: number;
  /** Stored conversations are forgotten this long after their last write. */
  conversationTtlMs: number;
  /** A worker whose clock differs from Redis's by more than this stores and resumes nothing (degraded). */
  maxClockSkewMs: number;
  /** Draining waits at most this long for the conversations to end. */
  drainTimeoutMs: number;
  prefix?: string;
}

export const DEFAULT_CLUSTER = {
  heartbeatMs: 1_000,
  workerTtlMs: 3_000,
  conversationTtlMs: 24 * 3600_000,
  maxClockSkewMs: 2_000,
  drainTimeoutMs: 10 * 60_000,
};

export interface ClusterLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

/** What a session is created for, as far as the cluster cares. */
export interface ConversationRequest {
  conversationId?: string;
}

export interface ClusterHealth {
  workerId: string;
  redis: RedisState;
  /** False: conversations go on here but are neither stored nor resumable. */
  resume: boolean;
  clockSkewMs?: number;
  draining: boolean;
  conversations: number;
  /** Set when degraded: what is missing, in words. */
  reason?: string;
}

export interface LocalLoad {
  sessions(): number;
  maxSessions(): number;
  eventLoopLagMs(): number;
}

/**
 * A worker's membership in the cluster: it registers and beats in Redis with its load, answers HAProxy's
 * agent-check, stores every conversation's history as it happens (fenced by owner and epoch) and resumes a
 * conversation that another worker lost. Redis is never on the audio path: when it is down, slow or out of
 * reach, or this machine's clock is off, conversations go on (degraded: not stored, not resumable) and /health
 * and the log say so.
 */
export class ClusterNode {
  readonly redis: ClusterRedis;
  readonly registry: WorkerRegistry;
  readonly store: ConversationStore;
  private readonly agent: AgentCheck;
  private readonly recorders = new Set<ConversationRecorder>();
  private timer: NodeJS.Timeout | undefined;
  private draining = false;
  private skewMs: number | undefined;
  private skewed = false;
  private lastCpu = cpuUsage();
  private lastCpuAt = performance.now();
  private cpu = 0;
  private local: LocalLoad | undefined;
  private beating: Promise<void> | undefined;

  constructor(
    readonly options: ClusterNodeOptions,
    private readonly log: ClusterLog,
  ) {
    this.redis = new ClusterRedis({
      ...DEFAULT_REDIS_OPTIONS,
      url: options.redisUrl,
      ...(options.prefix ? { prefix: options.prefix } : {}),
    });
    this.registry = new WorkerRegistry(this.redis, options.workerTtlMs);
    this.store = new ConversationStore(this.redis, options.conversationTtlMs);
    this.agent = new AgentCheck(() => {
      const load = this.load();
      return { load: loadScore(load), draining: this.draining, full: load.sessions >= load.maxSessions };
    });
    this.redis.events.on('state', ({ state, previous, error }) => {
      if (state === 'ok')
        this.log.info(
          { redis: state, previous },
          'cluster: Redis reachable: conversations are stored and resumable',
        );
      else
        this.log.warn(
          { redis: state, previous, err: error },
          'cluster degraded: Redis unreachable: conversations go on but are not stored and cannot resume elsewhere',
        );
    });
    // Back: whatever could not be written meanwhile is written now, and this worker registers again.
    this.redis.events.on('ready', () => {
      void this.beat();
      for (const recorder of this.recorders) void recorder.flush();
    });
  }

  async start(local: LocalLoad): Promise<{ agentPort?: number }> {
    this.local = local;
    const agentPort =
      this.options.agentPort === undefined
        ? undefined
        : await this.agent.listen(this.options.agentPort, this.options.agentHost ?? '127.0.0.1');
    await this.redis.connect();
    await this.beat();
    this.timer = setInterval(() => void this.beat(), this.options.heartbeatMs);
    this.timer.unref();
    return { agentPort };
  }

  get agentPort(): number {
    return this.agent.port;
  }

  /** Stores and resumes nothing now: Redis is out of reach or this clock cannot be trusted. */
  private resumable(): boolean {
    return this.redis.state === 'ok' && !this.skewed;
  }

  /**
   * Wraps a session factory: a request naming a conversation that is stored resumes it (the history is put back
   * before the client is attached); every session's history is then stored as it happens.
   */
  createSession<R extends ConversationRequest>(
    create: (request: R) => Promise<AgentSession>,
  ): (request: R) => Promise<AgentSession> {
    return async (request: R) => {
      const session = await create(request);
      const conversationId = request.conversationId ?? session.id;
      let epoch: number | undefined;
      let restored = 0;
      if (this.resumable()) {
        try {
          epoch = await this.store.claim(conversationId, this.options.workerId);
          const items = await this.store.load(conversationId);
          restored = restoreHistory(session, items);
          if (restored > 0)
            this.log.info(
              { conversation: conversationId, session: session.id, items: restored, epoch },
              'conversation resumed',
            );
        } catch (error) {
          epoch = undefined;
          this.log.warn(
            { conversation: conversationId, err: (error as Error).message },
            'cluster degraded: the conversation could not be claimed or loaded; it starts without its history',
          );
        }
      }
      const recorder = new ConversationRecorder(
        conversationId,
        session,
        this.store,
        this.options.workerId,
        epoch,
        () => this.resumable(),
        {
          onFenced: (info) =>
            this.log.warn(
              { ...info, worker: this.options.workerId },
              'late write refused: another worker owns the conversation now',
            ),
          onWriteFailed: (info) =>
            this.log.warn(info, 'conversation item not stored yet (retried when Redis answers)'),
        },
        restored,
      );
      this.recorders.add(recorder);
      const close = session.close.bind(session);
      session.close = async () => {
        await close();
        await recorder.finish();
        this.recorders.delete(recorder);
      };
      return session;
    };
  }

  health(): ClusterHealth {
    const reason =
      this.redis.state !== 'ok'
        ? `Redis ${this.redis.state}${this.redis.error ? ` (${this.redis.error})` : ''}: conversations are not stored and cannot resume`
        : this.skewed
          ? `clock skew ${this.skewMs} ms against Redis (limit ${this.options.maxClockSkewMs} ms): conversations are not stored and cannot resume`
          : undefined;
    return {
      workerId: this.options.workerId,
      redis: this.redis.state,
      resume: this.resumable(),
      ...(this.skewMs === undefined ? {} : { clockSkewMs: this.skewMs }),
      draining: this.draining,
      conversations: this.recorders.size,
      ...(reason ? { reason } : {}),
    };
  }

  /**
   * No new sessions (HAProxy's agent-check reads `drain`, the registry says draining); the live ones go on to
   * their end; then every item is written and the worker leaves the registry. Resolves with what was left when
   * the timeout cut the wait short (0: nothing was cut).
   */
  async drain(sessions: () => number): Promise<{ leftSessions: number }> {
    this.draining = true;
    await this.beat();
    const deadline = performance.now() + this.options.drainTimeoutMs;
    while (sessions() > 0 && performance.now() < deadline) await sleep(200);
    await Promise.all([...this.recorders].map((r) => r.flush()));
    return { leftSessions: sessions() };
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.beating;
    await Promise.all([...this.recorders].map((r) => r.flush()));
    if (this.redis.state === 'ok') await this.registry.remove(this.options.workerId).catch(() => undefined);
    await this.agent.close();
    await this.redis.close();
  }

  private load(): WorkerLoad {
    return {
      sessions: this.local?.sessions() ?? 0,
      maxSessions: this.local?.maxSessions() ?? 1,
      cpu: this.cpu,
      eventLoopLagMs: this.local?.eventLoopLagMs() ?? 0,
      draining: this.draining,
    };
  }

  private beat(): Promise<void> {
    this.beating ??= this.beatOnce().finally(() => {
      this.beating = undefined;
    });
    return this.beating;
  }

  private async beatOnce(): Promise<void> {
    const now = performance.now();
    const used = cpuUsage(this.lastCpu);
    const elapsedMs = now - this.lastCpuAt;
    if (elapsedMs > 0) this.cpu = Math.min(1, (used.user + used.system) / 1000 / elapsedMs);
    this.lastCpu = cpuUsage();
    this.lastCpuAt = now;
    if (this.redis.state !== 'ok') return;
    try {
      const { skewMs, roundTripMs } = await this.redis.clockSkewMs();
      this.skewMs = skewMs;
      const skewed = Math.abs(skewMs) - roundTripMs / 2 > this.options.maxClockSkewMs;
      if (skewed !== this.skewed) {
        this.skewed = skewed;
        if (skewed)
          this.log.warn(
            { clockSkewMs: skewMs, limitMs: this.options.maxClockSkewMs },
            'cluster degraded: this clock disagrees with Redis: conversations go on here but are not stored and cannot resume',
          );
        else this.log.info({ clockSkewMs: skewMs }, 'cluster: clock agrees with Redis again');
      }
      await this.registry.heartbeat(
        { id: this.options.workerId, url: this.options.url, agentPort: this.agent.port || undefined },
        this.load(),
      );
    } catch (error) {
      this.log.warn({ err: (error as Error).message }, 'cluster: heartbeat failed');
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
