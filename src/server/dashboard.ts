import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { AgentSession } from '../agent/session.ts';
import { type Experiment, experimentResults } from '../config/experiments.ts';
import type { AlertEngine } from '../metrics/alerts.ts';
import type { TurnMetrics } from '../metrics/schema.ts';
import { percentile } from '../metrics/stats.ts';
import type { ConversationStore, RecordingSide, StoredTurn } from '../store/types.ts';
import { type ArchiveOptions, SessionArchive } from './dashboard-archive.ts';

/** Prices for the cost column, per million (tokens, characters) or per minute of STT audio; 0: unknown. */
export interface Pricing {
  promptTokensPerMillion: number;
  completionTokensPerMillion: number;
  ttsCharactersPerMillion: number;
  sttPerMinute: number;
}

export interface DashboardOptions {
  store?: ConversationStore;
  alerts?: AlertEngine;
  experiments?: readonly Experiment[];
  assignmentOf?: ArchiveOptions['assignmentOf'];
  recordAudio?: boolean;
  pricing?: Partial<Pricing>;
  /** Every turn record (OpenTelemetry hooks in here). */
  onTurn?(record: TurnMetrics, session: AgentSession): void;
}

const SESSION = /^\/api\/dashboard\/sessions\/([A-Za-z0-9._-]{1,100})(?:\/audio\/(user|agent))?$/;
const STAGES = ['voiceToVoiceMs', 'eouDelayMs', 'transcriptionDelayMs', 'llmTtftMs', 'ttsTtfaMs'] as const;
const require = createRequire(import.meta.url);

/**
 * The dashboard's API under `/api/dashboard/` (the page itself is web/dashboard/, served as static files):
 * live sessions, aggregates over stored turns, one session's timeline and recordings, alerts and experiment
 * results. The server checks the token before calling `handle` (beyond loopback, as for every API).
 */
export class Dashboard {
  readonly archive: SessionArchive | undefined;
  private readonly pricing: Pricing;
  private readonly missingVendor = new Set<string>();

  constructor(private readonly options: DashboardOptions) {
    this.pricing = {
      promptTokensPerMillion: 0,
      completionTokensPerMillion: 0,
      ttsCharactersPerMillion: 0,
      sttPerMinute: 0,
      ...options.pricing,
    };
    this.archive = new SessionArchive({
      store: options.store ?? nullStore(),
      recordAudio: Boolean(options.recordAudio && options.store),
      assignmentOf: options.assignmentOf,
      onTurn: (record, session) => {
        options.alerts?.observe(record);
        options.onTurn?.(record, session);
      },
    });
  }

  /** Called by the server for every session it tracks. */
  track(session: AgentSession, closed: Promise<void>, transport?: string): void {
    this.archive?.attach(session, closed, transport);
  }

  /** True when the request was for the dashboard (and has been answered). */
  async handle(request: IncomingMessage, response: ServerResponse, url: URL): Promise<boolean> {
    if (url.pathname === '/dashboard') {
      response.writeHead(302, { location: `/dashboard/${url.search}`, 'cache-control': 'no-store' }).end();
      return true;
    }
    if (url.pathname.startsWith('/dashboard/vendor/')) return this.vendor(url.pathname, response);
    if (!url.pathname.startsWith('/api/dashboard/')) return false;
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end();
      return true;
    }
    try {
      if (url.pathname === '/api/dashboard/overview') {
        const since = Number(url.searchParams.get('since') ?? Date.now() - 3_600_000);
        return json(response, await this.overview(Number.isFinite(since) ? since : 0));
      }
      if (url.pathname === '/api/dashboard/sessions') {
        const store = this.requireStore();
        return json(response, { sessions: await store.listSessions({ limit: 200 }), live: this.live() });
      }
      if (url.pathname === '/api/dashboard/experiments')
        return json(response, await this.experimentResults());
      const match = SESSION.exec(url.pathname);
      if (match) {
        const store = this.requireStore();
        if (match[2]) return this.recording(request, response, store, match[1], match[2] as RecordingSide);
        const detail = await store.getSession(match[1]);
        if (!detail) return json(response, { error: 'no such session' }, 404);
        return json(response, { ...detail, cost: this.cost(detail.turnRecords.map((t) => t.record)) });
      }
      return json(response, { error: 'not found' }, 404);
    } catch (error) {
      // The store's own words (locked, not open) are the operator's to read; nothing secret is in them.
      return json(response, { error: `the store could not answer: ${(error as Error).message}` }, 503);
    }
  }

  live() {
    return this.archive?.liveSessions() ?? [];
  }

  private requireStore(): ConversationStore {
    if (!this.options.store) throw new Error('no store is configured (store.enabled is false)');
    return this.options.store;
  }

  private async overview(since: number) {
    const store = this.options.store;
    let turns: StoredTurn[] = [];
    let storeError: string | undefined;
    if (store) {
      try {
        turns = await store.turnsSince(since, 20_000);
      } catch (error) {
        storeError = (error as Error).message;
      }
    }
    const records = turns.map((t) => t.record);
    const bySession = new Map<string, TurnMetrics[]>();
    for (const t of turns) bySession.set(t.sessionId, [...(bySession.get(t.sessionId) ?? []), t.record]);
    const costs = [...bySession.values()].map((r) => this.cost(r).total);
    const count = (hit: (t: TurnMetrics) => boolean) => records.filter(hit).length;
    const rate = (hit: (t: TurnMetrics) => boolean) => (records.length ? count(hit) / records.length : null);
    const outcomes: Record<string, number> = {};
    for (const r of records) outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
    return {
      now: Date.now(),
      since,
      live: this.live(),
      store: store?.health() ?? null,
      storeError,
      alerts: {
        rules: this.options.alerts?.rules() ?? [],
        active: this.options.alerts?.active() ?? [],
        recent: this.options.alerts?.recent() ?? [],
      },
      turns: records.length,
      series: series(turns, since),
      distribution: histogram(records.map((r) => r.voiceToVoiceMs)),
      outcomes,
      rates: {
        interruption: rate((t) => t.outcome === 'interrupted'),
        // The user went on after a commit they had not finished: the agent cut in too early.
        falseCutOff: rate((t) => (t.turnTaking?.resumeMerges ?? 0) > 0),
        fallback: rate((t) => t.fallbacks > 0),
        error: rate((t) => t.outcome === 'error'),
      },
      fallbacks: records.reduce((sum, r) => sum + r.fallbacks, 0),
      costPerSession: {
        mean: costs.length ? costs.reduce((a, b) => a + b, 0) / costs.length : null,
        sessions: costs.length,
        priced: Object.values(this.pricing).some((p) => p > 0),
      },
    };
  }

  private cost(records: readonly TurnMetrics[]) {
    const sum = (pick: (r: TurnMetrics) => number) => records.reduce((a, r) => a + pick(r), 0);
    const usage = {
      promptTokens: sum((r) => r.promptTokens),
      completionTokens: sum((r) => r.completionTokens),
      ttsCharacters: sum((r) => r.ttsCharacters),
      sttAudioMs: sum((r) => r.sttAudioMs),
    };
    const p = this.pricing;
    const total =
      (usage.promptTokens * p.promptTokensPerMillion) / 1e6 +
      (usage.completionTokens * p.completionTokensPerMillion) / 1e6 +
      (usage.ttsCharacters * p.ttsCharactersPerMillion) / 1e6 +
      (usage.sttAudioMs / 60_000) * p.sttPerMinute;
    return { ...usage, total };
  }

  private async experimentResults() {
    const experiments = this.options.experiments ?? [];
    if (experiments.length === 0) return { experiments: [] };
    const turns = await this.requireStore().turnsSince(0, 50_000);
    return { experiments: await Promise.all(experiments.map((e) => experimentResults(e, turns))) };
  }

  private async recording(
    request: IncomingMessage,
    response: ServerResponse,
    store: ConversationStore,
    id: string,
    side: RecordingSide,
  ): Promise<boolean> {
    const found = await store.getRecording(id, side);
    if (!found)
      return json(response, { error: 'no recording (recordAudio is off, or the session is live)' }, 404);
    const size = found.bytes.byteLength;
    const range = /^bytes=(\d*)-(\d*)$/.exec(request.headers.range ?? '');
    const headers = { 'content-type': found.mime, 'accept-ranges': 'bytes', 'cache-control': 'no-store' };
    if (range && (range[1] || range[2])) {
      const start = range[1] ? Number(range[1]) : Math.max(0, size - Number(range[2]));
      const end = range[1] && range[2] ? Math.min(size - 1, Number(range[2])) : size - 1;
      if (start >= size || start > end) {
        response.writeHead(416, { 'content-range': `bytes */${size}` }).end();
        return true;
      }
      response.writeHead(206, {
        ...headers,
        'content-range': `bytes ${start}-${end}/${size}`,
        'content-length': String(end - start + 1),
      });
      response.end(request.method === 'HEAD' ? undefined : Buffer.from(found.bytes.subarray(start, end + 1)));
      return true;
    }
    response.writeHead(200, { ...headers, 'content-length': String(size) });
    response.end(request.method === 'HEAD' ? undefined : Buffer.from(found.bytes));
    return true;
  }

  /** uPlot, from its npm package (not copied into web/). */
  private async vendor(pathname: string, response: ServerResponse): Promise<boolean> {
    const files: Record<string, [string, string]> = {
      '/dashboard/vendor/uPlot.iife.min.js': ['dist/uPlot.iife.min.js', 'text/javascript; charset=utf-8'],
      '/dashboard/vendor/uPlot.min.css': ['dist/uPlot.min.css', 'text/css; charset=utf-8'],
    };
    const file = files[pathname];
    if (!file) return false;
    if (this.missingVendor.has(pathname)) return false;
    try {
      const root = dirname(require.resolve('uplot/package.json'));
      const body = await readFile(join(root, file[0]));
      response.writeHead(200, { 'content-type': file[1], 'cache-control': 'public, max-age=3600' });
      response.end(body);
    } catch {
      this.missingVendor.add(pathname);
      return false;
    }
    return true;
  }
}

/** p50/p95 per stage in up to 60 time buckets. */
function series(turns: readonly StoredTurn[], since: number) {
  if (turns.length === 0) return { bucketMs: 0, times: [], stages: {} };
  const first = Math.max(since, turns[0].at);
  const last = turns[turns.length - 1].at;
  const bucketMs = Math.max(10_000, Math.ceil((last - first + 1) / 60 / 10_000) * 10_000);
  const buckets = new Map<number, TurnMetrics[]>();
  for (const t of turns) {
    const key = Math.floor(t.at / bucketMs) * bucketMs;
    buckets.set(key, [...(buckets.get(key) ?? []), t.record]);
  }
  const times = [...buckets.keys()].sort((a, b) => a - b);
  const stages: Record<string, { p50: (number | null)[]; p95: (number | null)[] }> = {};
  for (const stage of STAGES) {
    const values = (at: number) =>
      (buckets.get(at) ?? []).map((r) => r[stage]).filter((v): v is number => typeof v === 'number');
    stages[stage] = {
      p50: times.map((at) => percentile(values(at), 50)),
      p95: times.map((at) => percentile(values(at), 95)),
    };
  }
  return { bucketMs, times, stages };
}

function histogram(values: readonly (number | null)[], binMs = 100) {
  const finite = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  if (finite.length === 0) return { binMs, bins: [] as { fromMs: number; count: number }[] };
  const top = Math.min(10_000, Math.max(...finite));
  const bins = Array.from({ length: Math.floor(top / binMs) + 1 }, (_, i) => ({
    fromMs: i * binMs,
    count: 0,
  }));
  for (const v of finite) bins[Math.min(bins.length - 1, Math.floor(v / binMs))].count++;
  return { binMs, bins };
}

function json(response: ServerResponse, body: unknown, status = 200): true {
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
  });
  response.end(JSON.stringify(body));
  return true;
}

/** With no store, the archive still keeps the live list (and feeds alerts); it writes nowhere. */
function nullStore(): ConversationStore {
  const none = async () => {
    throw new Error('no store is configured');
  };
  return {
    kind: 'sqlite',
    beginSession() {},
    endSession() {},
    addTurn() {},
    addEvent() {},
    addAudio() {},
    listSessions: none,
    getSession: none,
    turnsSince: none,
    getRecording: none,
    addMemory: none,
    listMemory: none,
    searchMemory: none,
    deleteMemory: none,
    deleteUserMemory: none,
    health: () => ({ ok: true, mode: 'closed', pending: 0, written: 0, dropped: 0 }),
    flush: async () => {},
    close: async () => {},
  };
}
