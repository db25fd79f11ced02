import { z } from 'zod';
import type { TurnMetrics } from './schema.ts';
import { percentile } from './stats.ts';

/** The stage latencies a rule may watch (ms fields of the turn record). */
const STAGE_METRICS = [
  'voiceToVoiceMs',
  'eouDelayMs',
  'transcriptionDelayMs',
  'llmTtftMs',
  'ttsTtfbMs',
  'ttsTtfaMs',
  'transportMs',
  'interruptionStopMs',
  'pipelineOverheadMs',
  'toolMs',
] as const;
/** Rates over the turns in the window, 0..1. */
const RATE_METRICS = ['errorRate', 'fallbackRate', 'interruptionRate'] as const;

export const AlertRuleSchema = z
  .object({
    name: z.string().min(1).max(100),
    metric: z.enum([...STAGE_METRICS, ...RATE_METRICS, 'eventLoopLagMs']),
    /** For a latency: which statistic of the window (rates ignore it; event-loop lag uses the samples). */
    stat: z.enum(['p50', 'p95', 'p99', 'mean', 'max']).default('p95'),
    /** Fires while the statistic is above this (ms, or a rate 0..1). */
    above: z.number().min(0),
    windowMs: z.number().int().min(1_000).max(86_400_000).default(300_000),
    /** Fewer samples than this in the window says nothing (and resolves a firing alert). */
    minSamples: z.number().int().min(1).max(100_000).default(3),
  })
  .strict();

export const AlertsConfigSchema = z
  .object({
    rules: z.array(AlertRuleSchema).max(100).default([]),
    /** Rules are evaluated this often. */
    evaluateEveryMs: z.number().int().min(100).max(600_000).default(5_000),
    /** Firing and resolving are POSTed here as JSON (Slack-style `text` plus the details). */
    webhook: z.string().url().optional(),
  })
  .strict();

export type AlertRule = z.infer<typeof AlertRuleSchema>;
export type AlertsConfig = z.infer<typeof AlertsConfigSchema>;

/** The usual rules: voice-to-voice p95 over 1.2 s, errors, fallbacks and a blocked event loop (5 minutes). */
export const EXAMPLE_RULES: AlertRule[] = [
  {
    name: 'slow replies',
    metric: 'voiceToVoiceMs',
    stat: 'p95',
    above: 1200,
    windowMs: 300_000,
    minSamples: 5,
  },
  { name: 'errors', metric: 'errorRate', stat: 'p95', above: 0.05, windowMs: 300_000, minSamples: 10 },
  { name: 'fallbacks', metric: 'fallbackRate', stat: 'p95', above: 0.2, windowMs: 300_000, minSamples: 10 },
  { name: 'event loop', metric: 'eventLoopLagMs', stat: 'max', above: 250, windowMs: 60_000, minSamples: 1 },
];

export interface AlertEvent {
  rule: string;
  state: 'firing' | 'resolved';
  metric: AlertRule['metric'];
  stat: AlertRule['stat'];
  /** The statistic when it changed (null: too few samples in the window). */
  value: number | null;
  threshold: number;
  samples: number;
  at: number;
}

export interface AlertLog {
  warn(fields: object, message: string): void;
  info(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface AlertEngineOptions {
  config: AlertsConfig;
  log?: AlertLog;
  /** The event loop's current lag (ms), sampled at every evaluation. */
  eventLoopLagMs?(): number;
  now?(): number;
  fetch?: typeof fetch;
}

const HISTORY_KEPT = 200;

/**
 * Alert rules over a sliding window of turn records (and event-loop lag samples), evaluated every
 * `evaluateEveryMs`: a rule fires when its statistic goes above the threshold and resolves when it comes back
 * (or the window holds too few samples). Each change goes to the log, the webhook and the dashboard.
 */
export class AlertEngine {
  private turns: { at: number; record: TurnMetrics }[] = [];
  private lag: { at: number; value: number }[] = [];
  private readonly firing = new Map<string, AlertEvent>();
  private readonly history: AlertEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  private readonly longestWindow: number;
  private readonly webhooks = new Set<Promise<void>>();

  constructor(private readonly options: AlertEngineOptions) {
    this.now = options.now ?? Date.now;
    this.longestWindow = Math.max(0, ...options.config.rules.map((r) => r.windowMs));
    const names = new Set<string>();
    for (const rule of options.config.rules) {
      if (names.has(rule.name)) throw new TypeError(`alerts: two rules are named "${rule.name}"`);
      names.add(rule.name);
    }
  }

  start(): void {
    if (this.timer || this.options.config.rules.length === 0) return;
    this.timer = setInterval(() => this.evaluate(), this.options.config.evaluateEveryMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await Promise.allSettled([...this.webhooks]);
  }

  observe(record: TurnMetrics): void {
    this.turns.push({ at: this.now(), record });
  }

  active(): AlertEvent[] {
    return [...this.firing.values()];
  }

  recent(): AlertEvent[] {
    return [...this.history];
  }

  rules(): AlertRule[] {
    return this.options.config.rules;
  }

  /** One evaluation of every rule (the timer calls this; tests may too). */
  evaluate(): AlertEvent[] {
    const now = this.now();
    if (this.options.eventLoopLagMs) this.lag.push({ at: now, value: this.options.eventLoopLagMs() });
    const since = now - this.longestWindow;
    this.turns = this.turns.filter((t) => t.at >= since);
    this.lag = this.lag.filter((s) => s.at >= since);
    const changes: AlertEvent[] = [];
    for (const rule of this.options.config.rules) {
      const { value, samples } = this.statistic(rule, now);
      const above = value !== null && samples >= rule.minSamples && value > rule.above;
      const wasFiring = this.firing.has(rule.name);
      if (above === wasFiring) continue;
      const event: AlertEvent = {
        rule: rule.name,
        state: above ? 'firing' : 'resolved',
        metric: rule.metric,
        stat: rule.stat,
        value: value === null ? null : Math.round(value * 1000) / 1000,
        threshold: rule.above,
        samples,
        at: now,
      };
      if (above) this.firing.set(rule.name, event);
      else this.firing.delete(rule.name);
      this.history.push(event);
      if (this.history.length > HISTORY_KEPT) this.history.shift();
      changes.push(event);
      this.announce(event);
    }
    return changes;
  }

  private statistic(rule: AlertRule, now: number): { value: number | null; samples: number } {
    const since = now - rule.windowMs;
    if (rule.metric === 'eventLoopLagMs') {
      const values = this.lag.filter((s) => s.at >= since).map((s) => s.value);
      return { value: stat(values, rule.stat), samples: values.length };
    }
    const turns = this.turns.filter((t) => t.at >= since).map((t) => t.record);
    if (rule.metric === 'errorRate' || rule.metric === 'fallbackRate' || rule.metric === 'interruptionRate') {
      const hit = (t: TurnMetrics) =>
        rule.metric === 'errorRate'
          ? t.outcome === 'error'
          : rule.metric === 'fallbackRate'
            ? t.fallbacks > 0
            : t.outcome === 'interrupted';
      return { value: turns.length ? turns.filter(hit).length / turns.length : null, samples: turns.length };
    }
    const field = rule.metric;
    const values = turns
      .map((t) => t[field])
      .filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
    return { value: stat(values, rule.stat), samples: values.length };
  }

  private announce(event: AlertEvent): void {
    const text =
      event.state === 'firing'
        ? `alert "${event.rule}" firing: ${event.metric} ${event.stat} ${event.value} > ${event.threshold} (${event.samples} samples)`
        : `alert "${event.rule}" resolved: ${event.metric} ${event.stat} ${event.value ?? 'no data'} (threshold ${event.threshold})`;
    if (event.state === 'firing') this.options.log?.warn({ alert: event }, text);
    else this.options.log?.info({ alert: event }, text);
    const url = this.options.config.webhook;
    if (!url) return;
    const send = (this.options.fetch ?? fetch)(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text, ...event }),
      signal: AbortSignal.timeout(5_000),
    })
      .then((response) => {
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
      })
      .catch((error: Error) =>
        this.options.log?.error({ err: error.message, rule: event.rule }, 'alert webhook failed'),
      )
      .finally(() => this.webhooks.delete(send));
    this.webhooks.add(send);
  }
}

function stat(values: number[], which: AlertRule['stat']): number | null {
  if (values.length === 0) return null;
  if (which === 'mean') return values.reduce((a, b) => a + b, 0) / values.length;
  if (which === 'max') return Math.max(...values);
  return percentile(values, which === 'p50' ? 50 : which === 'p95' ? 95 : 99);
}
