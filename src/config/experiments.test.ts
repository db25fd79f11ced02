import { describe, expect, it } from 'vitest';
import { sampleTurn } from '../store/testing/turns.ts';
import { ConfigSchema } from './config.ts';
import { ExperimentSchema, Experiments, experimentResults, type TurnSample } from './experiments.ts';

const experiment = ExperimentSchema.parse({
  name: 'endpointing',
  variants: [
    { name: 'quick', weight: 3, config: { endpointing: { minDelayMs: 200 } } },
    { name: 'patient', weight: 1, config: { endpointing: { minDelayMs: 700 } } },
  ],
});

/** A seeded pseudo-random source for the sample data (not for the bootstrap). */
function lcg(seed: number) {
  let s = seed;
  return () => {
    s = (s * 1664525 + 1013904223) % 4294967296;
    return s / 4294967296;
  };
}

function sessions(
  variant: string,
  count: number,
  base: number,
  spread: number,
  rnd: () => number,
): TurnSample[] {
  const out: TurnSample[] = [];
  for (let s = 0; s < count; s++) {
    for (let t = 1; t <= 5; t++) {
      out.push({
        sessionId: `${variant}-${s}`,
        experiment: 'endpointing',
        variant,
        record: sampleTurn(`${variant}-${s}`, t, base + rnd() * spread),
      });
    }
  }
  return out;
}

describe('experiments', () => {
  it('assigns variants by weight and applies their settings over the base configuration', () => {
    let i = 0;
    const draws = [0, 1000, 2999, 3000, 3999]; // thousandths of the total weight 4
    const experiments = new Experiments([experiment], () => draws[i++]);
    const base = ConfigSchema.parse({ endpointing: { maxDelayMs: 2000 } });
    const got = draws.map(() => experiments.assign(base));
    expect(got.map((g) => g.assignment?.variant)).toEqual(['quick', 'quick', 'quick', 'patient', 'patient']);
    expect(got[3].config.endpointing).toEqual({ maxDelayMs: 2000, minDelayMs: 700 });
    expect(base.endpointing).toEqual({ maxDelayMs: 2000 });
    experiments.record('s1', got[0].assignment);
    expect(experiments.assignmentOf('s1')).toEqual({ experiment: 'endpointing', variant: 'quick' });
  });

  it('gives both variants p50/p95 with intervals and a verdict only when the difference is significant', async () => {
    const rnd = lcg(7);
    const clear = [...sessions('quick', 8, 700, 200, rnd), ...sessions('patient', 8, 1200, 200, rnd)];
    const result = await experimentResults(experiment, clear, { resamples: 400 });
    const [quick, patient] = result.variants;
    expect([quick.sessions, patient.sessions]).toEqual([8, 8]);
    for (const v of result.variants) {
      for (const i of [v.p50, v.p95]) {
        expect(i.low).not.toBeNull();
        expect((i.low as number) <= (i.value as number) && (i.value as number) <= (i.high as number)).toBe(
          true,
        );
      }
    }
    expect(result.comparisons[0].significant).toBe(true);
    expect(result.verdict).toMatch(
      /^patient is slower than quick: voiceToVoiceMs p50 \+\d+ ms \(95 % CI \d+ to \d+ ms\)$/,
    );

    // The same two variants drawn from one distribution: intervals, but no verdict.
    const rnd2 = lcg(11);
    const same = [...sessions('quick', 8, 900, 300, rnd2), ...sessions('patient', 8, 900, 300, rnd2)];
    const none = await experimentResults(experiment, same, { resamples: 400 });
    expect(none.comparisons[0].significant).toBe(false);
    expect(none.verdict).toBeNull();
  });

  it('refuses an experiment with one variant or unknown settings', () => {
    expect(() => ExperimentSchema.parse({ name: 'x', variants: [{ name: 'a' }] })).toThrow();
    expect(() =>
      ExperimentSchema.parse({ name: 'x', variants: [{ name: 'a', config: { llm: 'x' } }, { name: 'b' }] }),
    ).toThrow();
  });
});
