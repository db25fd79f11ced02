import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AgentSession } from '../agent/session.ts';
import type { TurnMetrics } from '../metrics/schema.ts';

/** Stage latencies exported as histograms, in seconds as Prometheus expects (the records themselves are in ms). */
const STAGES = [
  ['eouDelayMs', 'repartee_eou_delay_seconds', 'End of user speech to end of turn committed'],
  ['transcriptionDelayMs', 'repartee_transcription_delay_seconds', 'End of user speech to final transcript'],
  ['llmTtftMs', 'repartee_llm_ttft_seconds', 'LLM request to first token'],
  ['ttsTtfbMs', 'repartee_tts_ttfb_seconds', 'First text to TTS to first audio'],
  ['voiceToVoiceMs', 'repartee_voice_to_voice_seconds', 'End of user speech to first agent audio heard'],
  [
    'interruptionStopMs',
    'repartee_interruption_stop_seconds',
    'User onset to agent audio stopped at the client',
  ],
  [
    'pipelineOverheadMs',
    'repartee_pipeline_overhead_seconds',
    "Voice-to-voice minus the stages: Repartee's own",
  ],
] as const satisfies readonly (readonly [keyof TurnMetrics, string, string])[];

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10];

/**
 * The server's Prometheus registry (`GET /metrics`): per-stage latency histograms, turns by outcome, provider
 * fallbacks and live sessions, fed by each session's turn records. One registry per server: no global state.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  private readonly stages = new Map<keyof TurnMetrics, Histogram>();
  private readonly turns: Counter<'outcome'>;
  private readonly fallbacks: Counter;

  constructor(liveSessions: () => number) {
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
  }

  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
