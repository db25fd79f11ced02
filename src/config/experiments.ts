import { randomInt } from 'node:crypto';
import { z } from 'zod';
import type { TurnMetrics } from '../metrics/schema.ts';
import { percentile } from '../metrics/stats.ts';
import type { ReparteeConfig } from './config.ts';

/**
 * A/B experiments: variants of the configuration with weights; each new session is assigned one at random
 * (by weight), built with it, and the assignment is recorded with the session in the store. Results per
 * variant: p50/p95 of a latency with bootstrap confidence intervals (resampling whole sessions, since the turns
 * of one conversation are not independent), and a verdict only when the interval of the difference excludes 0.
 */

/** What a variant may change: per-session settings (providers stay the process's). */
const VariantConfigSchema = z
  .object({
    endpointing: z.record(z.string(), z.unknown()).optional(),
    interruption: z.record(z.string(), z.unknown()).optional(),
    instructions: z.string().optional(),
    turnDetector: z.string().optional(),
    maxReplySentences: z.number().int().min(0).max(100).optional(),
    preemptiveGeneration: z.boolean().optional(),
    llmMaxTokens: z.number().int().min(1).max(8192).optional(),
  })
  .strict();

export const ExperimentSchema = z
  .object({
    name: z.string().min(1).max(100),
    /** The latency compared (lower is better). */
    metric: z
      .enum(['voiceToVoiceMs', 'eouDelayMs', 'llmTtftMs', 'ttsTtfaMs', 'pipelineOverheadMs'])
      .default('voiceToVoiceMs'),
    variants: z
      .array(
        z
          .object({
            name: z.string().min(1).max(100),
            weight: z.number().min(0).default(1),
            config: VariantConfigSchema.default({}),
          })
          .strict(),
      )
      .min(2)
      .max(10),
    /** Off: no new session is assigned (results stay readable). */
    enabled: z.boolean().default(true),
  })
  .strict()
  .refine((e) => e.variants.some((v) => v.weight > 0), { message: 'at least one variant needs a weight > 0' })
  .refine((e) => new Set(e.variants.map((v) => v.name)).size === e.variants.length, {
    message: 'variant names must differ',
  });

export const ExperimentsSchema = z.array(ExperimentSchema).max(20);
export type Experiment = z.infer<typeof ExperimentSchema>;

export interface Assignment {
  experiment: string;
  variant: string;
}

/**
 * The one running experiment (the first enabled; a session is in at most one, so variants do not mix).
 * `assign()` picks a variant and the configuration to build the session with; `record()` ties it to the id.
 */
export class Experiments {
  private readonly byId = new Map<string, Assignment>();
  private readonly running: Experiment | undefined;

  constructor(
    readonly experiments: readonly Experiment[],
    private readonly random: (max: number) => number = (max) => randomInt(max),
  ) {
    this.running = experiments.find((e) => e.enabled);
  }

  /** A variant for a new session, and the session's configuration with it applied. */
  assign(base: ReparteeConfig): { config: ReparteeConfig; assignment: Assignment | undefined } {
    const experiment = this.running;
    if (!experiment) return { config: base, assignment: undefined };
    const total = experiment.variants.reduce((sum, v) => sum + v.weight, 0);
    // Weights in thousandths, drawn uniformly.
    let draw = this.random(Math.max(1, Math.round(total * 1000))) / 1000;
    let variant = experiment.variants[experiment.variants.length - 1];
    for (const candidate of experiment.variants) {
      if (draw < candidate.weight) {
        variant = candidate;
        break;
      }
      draw -= candidate.weight;
    }
    return {
      config: applyVariant(base, variant.config),
      assignment: { experiment: experiment.name, variant: variant.name },
    };
  }

  record(sessionId: string, assignment: Assignment | undefined): void {
    if (assignment) this.byId.set(sessionId, assignment);
  }

  /** Read once when the session starts being archived, then forgotten. */
  assignmentOf(sessionId: string): Assignment | undefined {
    const found = this.byId.get(sessionId);
    this.byId.delete(sessionId);
    return found;
  }
}

export function applyVariant(
  base: ReparteeConfig,
  change: z.infer<typeof VariantConfigSchema>,
): ReparteeConfig {
  const config = { ...base } as Record<string, unknown>;
  for (const [key, value] of Object.entries(change)) {
    if (value === undefined) continue;
    const current = config[key];
    config[key] =
      value && typeof value === 'object' && current && typeof current === 'object'
        ? { ...current, ...value }
        : value;
  }
  return config as ReparteeConfig;
}

export interface Interval {
  value: number | null;
  low: number | null;
  high: number | null;
}

export interface VariantResult {
  variant: string;
  sessions: number;
  turns: number;
  p50: Interval;
  p95: Interval;
}

export interface ExperimentResult {
  experiment: string;
  metric: string;
  variants: VariantResult[];
  /** Each other variant against the first: the difference of p50 (other − first) with its interval. */
  comparisons: { variant: string; against: string; p50Difference: Interval; significant: boolean }[];
  /** Said only when an interval excludes 0. */
  verdict: string | null;
  confidence: number;
  resamples: number;
}

export interface TurnSample {
  sessionId: string;
  variant: string | null;
  experiment: string | null;
  record: TurnMetrics;
}

/** A seeded generator (mulberry32): the same data gives the same intervals. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Results of one experiment from its turn records. The bootstrap yields to the event loop between chunks of
 * resamples, so a large experiment costs the audio path no long block.
 */
export async function experimentResults(
  experiment: Pick<Experiment, 'name' | 'metric' | 'variants'>,
  turns: readonly TurnSample[],
  { resamples = 1000, confidence = 0.95, seed = 1 } = {},
): Promise<ExperimentResult> {
  const random = seeded(seed);
  const metric = experiment.metric;
  const groups = experiment.variants.map((v) => {
    const bySession = new Map<string, number[]>();
    for (const turn of turns) {
      if (turn.experiment !== experiment.name || turn.variant !== v.name) continue;
      const value = turn.record[metric];
      if (typeof value !== 'number' || !Number.isFinite(value)) continue;
      const list = bySession.get(turn.sessionId) ?? [];
      list.push(value);
      bySession.set(turn.sessionId, list);
    }
    return { name: v.name, sessions: [...bySession.values()] };
  });
  const alpha = (1 - confidence) / 2;
  const boots = groups.map(() => ({ p50: [] as number[], p95: [] as number[] }));
  for (let b = 0; b < resamples; b++) {
    for (const [i, group] of groups.entries()) {
      if (group.sessions.length === 0) continue;
      const pooled: number[] = [];
      for (let k = 0; k < group.sessions.length; k++) {
        pooled.push(...group.sessions[Math.floor(random() * group.sessions.length)]);
      }
      boots[i].p50.push(percentile(pooled, 50) as number);
      boots[i].p95.push(percentile(pooled, 95) as number);
    }
    if (b % 50 === 49) await new Promise((resolve) => setImmediate(resolve));
  }
  const interval = (point: number | null, samples: number[]): Interval => ({
    value: point,
    low: samples.length ? (percentile(samples, alpha * 100) as number) : null,
    high: samples.length ? (percentile(samples, (1 - alpha) * 100) as number) : null,
  });
  const variants: VariantResult[] = groups.map((group, i) => {
    const all = group.sessions.flat();
    return {
      variant: group.name,
      sessions: group.sessions.length,
      turns: all.length,
      p50: interval(percentile(all, 50), boots[i].p50),
      p95: interval(percentile(all, 95), boots[i].p95),
    };
  });
  const comparisons: ExperimentResult['comparisons'] = [];
  const verdicts: string[] = [];
  for (let i = 1; i < groups.length; i++) {
    const base = boots[0].p50;
    const other = boots[i].p50;
    const n = Math.min(base.length, other.length);
    const differences = Array.from({ length: n }, (_, b) => other[b] - base[b]);
    const mine = variants[i].p50.value;
    const theirs = variants[0].p50.value;
    const point = mine !== null && theirs !== null ? mine - theirs : null;
    const difference = interval(point, differences);
    // Needs a real sample on both sides: two sessions each at least.
    const enough = groups[0].sessions.length >= 2 && groups[i].sessions.length >= 2;
    const significant =
      enough &&
      difference.low !== null &&
      difference.high !== null &&
      (difference.low > 0 || difference.high < 0);
    comparisons.push({
      variant: groups[i].name,
      against: groups[0].name,
      p50Difference: difference,
      significant,
    });
    if (significant && point !== null) {
      const faster = point < 0;
      verdicts.push(
        `${groups[i].name} is ${faster ? 'faster' : 'slower'} than ${groups[0].name}: ${metric} p50 ` +
          `${faster ? '' : '+'}${Math.round(point)} ms (${Math.round(confidence * 100)} % CI ` +
          `${Math.round(difference.low as number)} to ${Math.round(difference.high as number)} ms)`,
      );
    }
  }
  return {
    experiment: experiment.name,
    metric,
    variants,
    comparisons,
    verdict: verdicts.length ? verdicts.join('; ') : null,
    confidence,
    resamples,
  };
}
