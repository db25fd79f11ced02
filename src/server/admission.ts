import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { totalmem } from 'node:os';
import { isLoopbackName } from './guard.ts';

/**
 * Measured cost of one session, for the default session cap (`repartee serve` on the local stack, stories260K,
 * idle WebSockets after `ready`, RSS of the server process): 20 sessions +10.1 MiB each, 50 +5.5, 100 +3.6, i.e.
 * about 150 MiB loaded once and 1.6-2.4 MiB per idle session; a typed turn on each added ~1.2 MiB more. Since
 * decoders are pooled and held only while someone speaks, the session itself is cheap; 8 MiB leaves room for a
 * long conversation's history and audio buffers. (Before the pool, a session held a ~57 MB decoder from connect:
 * an idle WebSocket cost ~96 MB.)
 */
export const LOCAL_SESSION_BYTES = 8 * 1024 * 1024;
/** The decoder pool's worst case, held whatever the session count: 16 decoders (its default) x ~60 MB. */
export const LOCAL_DECODER_POOL_BYTES = 16 * 60 * 1024 * 1024;
/** A cloud stack's sessions measured ~0 MiB each at 200 sessions (bench/results/e2e.md); rounded up. */
export const CLOUD_SESSION_BYTES = 4 * 1024 * 1024;
/** One JavaScript thread held 200 speaking sessions with voice-to-voice p95 within 6 % of one session's. */
export const MAX_SESSIONS_PER_THREAD = 200;
/** The share of the machine's (or container's) memory the sessions of one process may take by default. */
export const MEMORY_SHARE = 0.5;

export interface SessionCostInput {
  /** Bytes one more session costs. */
  perSessionBytes: number;
  /** Bytes held whatever the number of sessions (the local stack's decoder pool). */
  reservedBytes?: number;
  /** Memory available to the process; default: the cgroup limit when there is one, else the machine's. */
  memoryBytes?: number;
}

/** min(200, (half the memory - reserved) / per-session cost), at least 1: the default of `server.maxSessions`. */
export function defaultMaxSessions({
  perSessionBytes,
  reservedBytes = 0,
  memoryBytes,
}: SessionCostInput): number {
  const memory = memoryBytes ?? availableMemory();
  const byMemory = Math.floor((memory * MEMORY_SHARE - reservedBytes) / Math.max(1, perSessionBytes));
  return Math.max(1, Math.min(MAX_SESSIONS_PER_THREAD, byMemory));
}

function availableMemory(): number {
  const machine = totalmem();
  // The cgroup limit of a container, or a huge number when there is none.
  const limit = process.constrainedMemory?.() ?? 0;
  return limit > 0 && limit < machine ? limit : machine;
}

export interface AdmissionOptions {
  /** Sessions at once in this process; past it a new one gets 503 with Retry-After. */
  maxSessions: number;
  /** Sessions at once from one client address; past it 429 with Retry-After. 0: no per-client cap. */
  maxSessionsPerClient: number;
  /**
   * Loopback clients are local programs or a reverse proxy on this machine, so by default they count only
   * towards maxSessions; true applies the per-client cap to them too.
   */
  limitLoopbackClients: boolean;
  /** Proxies whose X-Forwarded-For names the real client (exact addresses). */
  trustedProxies: readonly string[];
  /** The Retry-After sent with a refusal. */
  retryAfterSeconds: number;
}

export const DEFAULT_ADMISSION: Omit<AdmissionOptions, 'maxSessions'> = {
  maxSessionsPerClient: 4,
  limitLoopbackClients: false,
  trustedProxies: [],
  retryAfterSeconds: 5,
};

export interface AdmissionTicket {
  readonly client: string;
  /** Gives the place back; calling it again does nothing. */
  release(): void;
}

export interface AdmissionRefusal {
  status: 429 | 503;
  reason: string;
  retryAfterSeconds: number;
}

export type AdmissionResult =
  | { ok: true; ticket: AdmissionTicket }
  | { ok: false; refusal: AdmissionRefusal };

/**
 * Places for sessions: one is taken when a WebSocket upgrade or a WebRTC offer is accepted, before the session
 * costs anything, and given back when it ends, so a refusal is cheap and immediate.
 */
export class Admission {
  private held = 0;
  private readonly perClient = new Map<string, number>();
  private refusedTotal = { capacity: 0, client: 0 };

  constructor(readonly options: AdmissionOptions) {
    if (!(Number.isInteger(options.maxSessions) && options.maxSessions >= 1)) {
      throw new TypeError(`maxSessions must be an integer >= 1, got ${options.maxSessions}`);
    }
  }

  get sessions(): number {
    return this.held;
  }

  /** No place is left for one more session in this process. */
  get full(): boolean {
    return this.held >= this.options.maxSessions;
  }

  get refused(): { capacity: number; client: number } {
    return { ...this.refusedTotal };
  }

  admit(request: IncomingMessage): AdmissionResult {
    const client = this.clientAddress(request);
    const { maxSessions, maxSessionsPerClient, retryAfterSeconds } = this.options;
    if (this.full) {
      this.refusedTotal.capacity++;
      const reason = `the server is at its limit of ${maxSessions} sessions; try again shortly`;
      return { ok: false, refusal: { status: 503, reason, retryAfterSeconds } };
    }
    const capped = maxSessionsPerClient > 0 && (this.options.limitLoopbackClients || !isLoopbackName(client));
    const mine = this.perClient.get(client) ?? 0;
    if (capped && mine >= maxSessionsPerClient) {
      this.refusedTotal.client++;
      const reason = `too many sessions from your address (limit ${maxSessionsPerClient}); close one first`;
      return { ok: false, refusal: { status: 429, reason, retryAfterSeconds } };
    }
    this.held++;
    this.perClient.set(client, mine + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.held--;
      const left = (this.perClient.get(client) ?? 1) - 1;
      if (left > 0) this.perClient.set(client, left);
      else this.perClient.delete(client);
    };
    return { ok: true, ticket: { client, release } };
  }

  /** The peer address, or the client a trusted proxy names (the last X-Forwarded-For hop it did not add). */
  clientAddress(request: IncomingMessage): string {
    const peer = unmapped(request.socket.remoteAddress ?? 'unknown');
    if (!this.options.trustedProxies.includes(peer)) return peer;
    const forwarded = request.headers['x-forwarded-for'];
    const hops = (Array.isArray(forwarded) ? forwarded.join(',') : (forwarded ?? ''))
      .split(',')
      .map((hop) => unmapped(hop.trim()))
      .filter((hop) => isIP(hop) !== 0);
    for (let i = hops.length - 1; i >= 0; i--) {
      if (!this.options.trustedProxies.includes(hops[i])) return hops[i];
    }
    return peer;
  }
}

/** `::ffff:10.0.0.1` (an IPv4 peer on a dual-stack socket) is 10.0.0.1. */
function unmapped(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4
    ? address.slice(7)
    : address.toLowerCase();
}
