import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { AgentSession } from '../agent/session.ts';
import type { TurnMetrics } from '../metrics/schema.ts';
import type { LoopLagSnapshot } from './loop-lag.ts';

/** Stage latencies exported as histograms, in seconds as Prometheus expects (the records themselves are in ms). */
const STAGES = [
  ['eouDelayMs', 'repartee_eou_delay_seconds', 'End of user speech to end of turn committed'],
  ['transcriptionDelayMs', 'repartee_transcription_delay_seconds', 'End of user speech to final transcript'],
  ['llmTtftMs', 'repartee_llm_ttft_seconds', 'LLM request to first token'],
  ['ttsTtfbMs', 'repartee_tts_ttfb_seconds', 'First text to TTS to first audio frame'],
  ['ttsTtfaMs', 'repartee_tts_ttfa_seconds', 'First text to TTS to first audible sample'],
  [
    'voiceToVoiceMs',
    'repartee_voice_to_voice_seconds',
    'End of user speech to first audible agent sample heard at the client',
  ],
  [
    'interruptionStopMs',
    'repartee_interruption_stop_seconds',
    'User onset (VAD start less its look-back) to agent audio stopped at the client',
  ],
  [
    'pipelineOverheadMs',
    'repartee_pipeline_overhead_seconds',
    "Voice-to-voice minus the stages: Repartee's own",
  ],
] as const satisfies readonly (readonly [keyof TurnMetrics, string, string])[];

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10];
const REFUSAL_REASONS = ['host', 'origin', 'token', 'capacity', 'client'] as const;
const LAG_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** What the server adds beyond the turn records: the loop's health and how many requests it refused. */
export interface ServerGauges {
  loopLag?(): LoopLagSnapshot;
  maxSessions?(): number;
}

/**
 * The server's Prometheus registry (`GET /metrics`): per-stage latency histograms, turns by outcome, provider
 * fallbacks and live sessions, fed by each session's turn records. One registry per server: no global state.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  private readonly stages = new Map<keyof TurnMetrics, Histogram>();
  private readonly turns: Counter<'outcome'>;
  private readonly fallbacks: Counter;
  private readonly refusals: Counter<'reason'>;
  private readonly loopLag: Histogram;
  private readonly cacheLookups: Counter<'cache' | 'result'>;
  private readonly cacheSaved: Counter;

  constructor(liveSessions: () => number, gauges: ServerGauges = {}) {
    // The process's own figures (resident memory, heap spaces, GC, handles): what memory came back after sessions.
    collectDefaultMetrics({ register: this.registry });
    for (const [field, name, help] of STAGES) {
      this.stages.set(field, new Histogram({ name, help, buckets: BUCKETS, registers: [this.registry] }));
    }
    this.turns = new Counter({
      name: 'repartee_turns_total',
      help: 'Turns answered, by outcome',
      labelNames: ['outcome'],
      registers: [this.registry],
    });
    this.fallbacks = new Counter({
      name: 'repartee_provider_fallbacks_total',
      help: 'Switches to a fallback provider',
      registers: [this.registry],
    });
    new Gauge({
      name: 'repartee_sessions',
      help: 'Live conversations',
      registers: [this.registry],
      collect() {
        this.set(liveSessions());
      },
    });
    this.refusals = new Counter({
      name: 'repartee_refused_total',
      help: 'Requests refused: host, origin, token, capacity (503), client (429)',
      labelNames: ['reason'],
      registers: [this.registry],
    });
    // Every reason is exported from the start (at 0), so a dashboard's rate() has a series before the first refusal.
    for (const reason of REFUSAL_REASONS) this.refusals.inc({ reason }, 0);
    this.cacheLookups = new Counter({
      name: 'repartee_cache_lookups_total',
      help: 'Cache lookups: TTS audio segments and responses (turns that could use it), by result',
      labelNames: ['cache', 'result'],
      registers: [this.registry],
    });
    for (const cache of ['tts', 'response']) {
      for (const result of ['hit', 'miss']) this.cacheLookups.inc({ cache, result }, 0);
    }
    this.cacheSaved = new Counter({
      name: 'repartee_cache_saved_seconds_total',
      help: 'Provider time saved by cache hits (LLM first token, TTS first audio, as measured when learned)',
      registers: [this.registry],
    });
    this.loopLag = new Histogram({
      name: 'repartee_event_loop_lag_seconds',
      help: 'Lateness of the event-loop probe timer, per probe',
      buckets: LAG_BUCKETS,
      registers: [this.registry],
    });
    const { loopLag, maxSessions } = gauges;
    if (maxSessions) {
      new Gauge({
        name: 'repartee_sessions_max',
        help: 'Sessions this process admits at once',
        registers: [this.registry],
        collect() {
          this.set(maxSessions());
        },
      });
    }
    if (loopLag) {
      const lagGauge = (name: string, help: string, pick: (s: LoopLagSnapshot) => number) =>
        new Gauge({
          name,
          help,
          registers: [this.registry],
          collect() {
            this.set(pick(loopLag()));
          },
        });
      lagGauge(
        'repartee_event_loop_lag_recent_max_seconds',
        'Largest probe lag in the hold window',
        (s) => s.recentMaxMs / 1000,
      );
      lagGauge(
        'repartee_event_loop_delay_p99_seconds',
        "Node's event-loop delay p99 since start",
        (s) => s.p99Ms / 1000,
      );
      lagGauge('repartee_degraded', '1 while /health reports degraded (event-loop lag)', (s) =>
        s.degraded ? 1 : 0,
      );
    }
  }

  refused(reason: (typeof REFUSAL_REASONS)[number]): void {
    this.refusals.inc({ reason });
  }

  observeLoopLag(lagMs: number): void {
    this.loopLag.observe(lagMs / 1000);
  }

  observe(session: AgentSession): void {
    session.on('metrics', (record) => this.record(record));
  }

  record(turn: TurnMetrics): void {
    for (const [field, histogram] of this.stages) {
      const value = turn[field];
      if (typeof value === 'number' && Number.isFinite(value) && value >= 0) histogram.observe(value / 1000);
    }
    this.turns.inc({ outcome: turn.outcome });
    if (turn.fallbacks > 0) this.fallbacks.inc(turn.fallbacks);
    const cache = turn.cache;
    if (cache) {
      if (cache.ttsHits) this.cacheLookups.inc({ cache: 'tts', result: 'hit' }, cache.ttsHits);
      if (cache.ttsMisses) this.cacheLookups.inc({ cache: 'tts', result: 'miss' }, cache.ttsMisses);
      if (cache.response === 'hit' || cache.response === 'miss') {
        this.cacheLookups.inc({ cache: 'response', result: cache.response });
      }
      if (cache.savedMs > 0) this.cacheSaved.inc(cache.savedMs / 1000);
    }
  }

  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
