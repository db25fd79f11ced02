import { Redis } from 'ioredis';
import { TypedEmitter } from '../util/emitter.ts';
import { CLAIM, HEARTBEAT, LIVE, PICK, SYNC } from './scripts.ts';

export type RedisState = 'connecting' | 'ok' | 'unreachable';

export interface ClusterRedisOptions {
  url: string;
  /** Key prefix, so several deployments can share one Redis. */
  prefix: string;
  /** A command that has no answer within this is failed (the conversation goes on; the write is retried). */
  commandTimeoutMs: number;
  /** Reconnection back-off ceiling. */
  maxReconnectDelayMs: number;
}

export const DEFAULT_REDIS_OPTIONS: Omit<ClusterRedisOptions, 'url'> = {
  prefix: 'repartee:',
  commandTimeoutMs: 1_000,
  maxReconnectDelayMs: 2_000,
};

interface ClusterCommands {
  rpHeartbeat(workers: string, worker: string, ...args: (string | number)[]): Promise<number>;
  rpPick(workers: string, prefix: string): Promise<[string, string] | null>;
  rpLive(workers: string, prefix: string): Promise<string[]>;
  rpClaim(owner: string, worker: string, ttlMs: number): Promise<number>;
  rpSync(owner: string, items: string, ...args: (string | number)[]): Promise<(number | string | null)[]>;
}

export type ClusterClient = Redis & ClusterCommands;

export interface ClusterRedisEvents extends Record<string, unknown> {
  /** Connected (again): whatever could not be written meanwhile is written now. */
  ready: undefined;
  state: { state: RedisState; previous: RedisState; error?: string };
}

/**
 * One connection to Redis for a worker, with the cluster's scripts. Redis being down is a state, never an
 * exception for a caller to die of: commands fail fast (no offline queue piling up), reconnection goes on in the
 * background, and `state` says what /health and the log should say.
 */
export class ClusterRedis {
  readonly client: ClusterClient;
  readonly events = new TypedEmitter<ClusterRedisEvents>();
  private current: RedisState = 'connecting';
  private lastError: string | undefined;

  constructor(readonly options: ClusterRedisOptions) {
    const redis = new Redis(options.url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeoutMs,
      connectTimeout: Math.max(options.commandTimeoutMs, 1_000),
      retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 10), options.maxReconnectDelayMs),
      reconnectOnError: () => false,
    });
    redis.defineCommand('rpHeartbeat', { numberOfKeys: 2, lua: HEARTBEAT });
    redis.defineCommand('rpPick', { numberOfKeys: 1, lua: PICK });
    redis.defineCommand('rpLive', { numberOfKeys: 1, lua: LIVE });
    redis.defineCommand('rpClaim', { numberOfKeys: 1, lua: CLAIM });
    redis.defineCommand('rpSync', { numberOfKeys: 2, lua: SYNC });
    this.client = redis as ClusterClient;
    redis.on('ready', () => {
      this.setState('ok');
      this.events.emit('ready', undefined);
    });
    redis.on('error', (error: Error) => {
      this.lastError = error.message;
      this.setState('unreachable', error.message);
    });
    redis.on('end', () => this.setState('unreachable', this.lastError));
    redis.on('close', () => {
      if (this.current === 'ok') this.setState('unreachable', 'connection closed');
    });
  }

  /** Starts connecting; resolves whether or not Redis answers (a worker runs without it, degraded). */
  async connect(): Promise<RedisState> {
    try {
      await this.client.connect();
    } catch (error) {
      this.lastError = (error as Error).message;
      this.setState('unreachable', this.lastError);
    }
    return this.current;
  }

  get state(): RedisState {
    return this.current;
  }

  get error(): string | undefined {
    return this.current === 'ok' ? undefined : this.lastError;
  }

  key(...parts: string[]): string {
    return this.options.prefix + parts.join(':');
  }

  /** Redis's clock minus ours, ms, measured around one TIME call (half the round trip is the uncertainty). */
  async clockSkewMs(): Promise<{ skewMs: number; roundTripMs: number }> {
    const before = Date.now();
    const [seconds, micros] = await this.client.time();
    const after = Date.now();
    const redisMs = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    return { skewMs: Math.round(redisMs - (before + after) / 2), roundTripMs: after - before };
  }

  async close(): Promise<void> {
    this.client.disconnect(false);
  }

  private setState(state: RedisState, error?: string): void {
    if (state === this.current) return;
    const previous = this.current;
    this.current = state;
    this.events.emit('state', { state, previous, ...(error ? { error } : {}) });
  }
}
