import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';

/**
 * Event-loop lag: how late a timer fires. One process hosts every session on one thread, so lag is latency
 * every caller hears; a block of the loop (a spinning loop, a synchronous native call) shows up here first.
 */
export interface LoopLagOptions {
  /** How often the probe timer runs; its lateness is the lag. */
  probeIntervalMs: number;
  /** A lag above this is reported (logged) with what was running. */
  logAboveMs: number;
  /** /health says "degraded" while a lag above this was seen within the last `degradedHoldMs`. */
  degradedAboveMs: number;
  degradedHoldMs: number;
}

export const DEFAULT_LOOP_LAG: LoopLagOptions = {
  probeIntervalMs: 50,
  logAboveMs: 100,
  degradedAboveMs: 250,
  degradedHoldMs: 10_000,
};

export interface LoopLagReport {
  lagMs: number;
  /** When the late timer finally ran (performance.now()). */
  atMs: number;
  /** What the server knew was running then (sessions and their states). */
  running: unknown;
}

export interface LoopLagSnapshot {
  /** The largest lag within the hold window, ms. */
  recentMaxMs: number;
  /** Percentiles of the loop delay since start, from Node's own sampler, ms. */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  degraded: boolean;
}

export class LoopLagMonitor {
  private timer: NodeJS.Timeout | undefined;
  private readonly histogram: IntervalHistogram;
  private expectedAt = 0;
  /** Lags above degradedAboveMs, with when they were seen, newest last. */
  private spikes: { atMs: number; lagMs: number }[] = [];
  private recent: { atMs: number; lagMs: number }[] = [];

  constructor(
    readonly options: LoopLagOptions,
    private readonly hooks: {
      /** Every probe's lag, for the Prometheus histogram. */
      onSample?(lagMs: number): void;
      onLag?(report: LoopLagReport): void;
      describeRunning?(): unknown;
    } = {},
  ) {
    for (const key of ['probeIntervalMs', 'logAboveMs', 'degradedAboveMs', 'degradedHoldMs'] as const) {
      if (!(Number.isFinite(options[key]) && options[key] > 0)) {
        throw new TypeError(`event-loop lag option ${key} must be > 0, got ${options[key]}`);
      }
    }
    this.histogram = monitorEventLoopDelay({ resolution: 10 });
  }

  start(): void {
    if (this.timer) return;
    this.histogram.enable();
    this.expectedAt = performance.now() + this.options.probeIntervalMs;
    this.timer = setInterval(() => this.probe(), this.options.probeIntervalMs);
    // The probe watches the loop; it must not keep the process alive on its own.
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.histogram.disable();
  }

  snapshot(now = performance.now()): LoopLagSnapshot {
    this.forget(now);
    const recentMaxMs = Math.max(0, ...this.recent.map((s) => s.lagMs));
    const ns = (value: number) => (Number.isFinite(value) ? value / 1e6 : 0);
    return {
      recentMaxMs: round(recentMaxMs),
      p50Ms: round(ns(this.histogram.percentile(50))),
      p99Ms: round(ns(this.histogram.percentile(99))),
      maxMs: round(ns(this.histogram.max)),
      degraded: this.spikes.length > 0,
    };
  }

  private probe(): void {
    const now = performance.now();
    const lagMs = Math.max(0, now - this.expectedAt);
    this.expectedAt = now + this.options.probeIntervalMs;
    this.hooks.onSample?.(lagMs);
    if (lagMs > 0) this.recent.push({ atMs: now, lagMs });
    if (lagMs > this.options.degradedAboveMs) this.spikes.push({ atMs: now, lagMs });
    this.forget(now);
    if (lagMs > this.options.logAboveMs) {
      this.hooks.onLag?.({ lagMs: round(lagMs), atMs: now, running: this.hooks.describeRunning?.() });
    }
  }

  private forget(now: number): void {
    const since = now - this.options.degradedHoldMs;
    const drop = (list: { atMs: number }[]) => {
      let i = 0;
      while (i < list.length && list[i].atMs < since) i++;
      if (i > 0) list.splice(0, i);
    };
    drop(this.spikes);
    drop(this.recent);
  }
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
