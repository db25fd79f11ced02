import { describe, expect, it } from 'vitest';
import { LatencySpecError, latencySampler, seededRandom } from './simulated-latency.ts';

describe('simulated latency', () => {
  it('draws a uniform range reproducibly from a seed', () => {
    const a = latencySampler({ minMs: 400, maxMs: 700 }, seededRandom(42));
    const b = latencySampler({ minMs: 400, maxMs: 700 }, seededRandom(42));
    const draws = Array.from({ length: 2000 }, () => a());
    expect(draws.slice(0, 5)).toEqual(Array.from({ length: 5 }, () => b()));
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(400);
    expect(Math.max(...draws)).toBeLessThan(700);
    const mean = draws.reduce((s, v) => s + v, 0) / draws.length;
    expect(mean).toBeGreaterThan(540);
    expect(mean).toBeLessThan(560);
    // Spread over the whole range, not stuck in one corner.
    expect(draws.filter((v) => v < 450).length).toBeGreaterThan(200);
    expect(draws.filter((v) => v > 650).length).toBeGreaterThan(200);
  });

  it('gives a fixed delay as is, and different seeds give different sequences', () => {
    expect(latencySampler(330, seededRandom(1))()).toBe(330);
    const x = seededRandom(1);
    const y = seededRandom(2);
    expect([x(), x(), x()]).not.toEqual([y(), y(), y()]);
  });

  it('refuses negative, non-finite and inverted specs', () => {
    const random = seededRandom(1);
    expect(() => latencySampler(-1, random)).toThrow(LatencySpecError);
    expect(() => latencySampler(Number.NaN, random)).toThrow(LatencySpecError);
    expect(() => latencySampler({ minMs: 500, maxMs: 400 }, random, 'ttft')).toThrow(/ttft/);
  });
});
