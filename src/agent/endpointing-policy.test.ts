import { describe, expect, it } from 'vitest';
import { DEFAULT_ENDPOINTING_POLICY as D, endpointingDelayMs, UserPauseStats } from './endpointing-policy.ts';

describe('endpointingDelayMs', () => {
  it('runs from maxDelayMs at p = 0 down to minDelayMs at p >= confidentAbove, never rising', () => {
    expect(endpointingDelayMs(0, D)).toBe(D.maxDelayMs);
    expect(endpointingDelayMs(D.confidentAbove, D)).toBe(D.minDelayMs);
    expect(endpointingDelayMs(1, D)).toBe(D.minDelayMs);
    let previous = Number.POSITIVE_INFINITY;
    for (let p = 0; p <= 1; p += 0.05) {
      const delay = endpointingDelayMs(p, D);
      expect(delay).toBeLessThanOrEqual(previous);
      previous = delay;
    }
  });

  it('treats a bad probability as sure-to-end rather than hold forever, and clamps', () => {
    expect(endpointingDelayMs(Number.NaN, D)).toBe(D.minDelayMs);
    expect(endpointingDelayMs(-3, D)).toBe(D.maxDelayMs);
    expect(endpointingDelayMs(7, D)).toBe(D.minDelayMs);
  });

  it('a larger shape answers likely ends sooner', () => {
    const gentle = endpointingDelayMs(0.6, { ...D, shape: 1 });
    const steep = endpointingDelayMs(0.6, { ...D, shape: 3 });
    expect(steep).toBeLessThan(gentle);
  });

  it("lifts the bottom to the user's usual pause while unsure, not when sure, and stays capped", () => {
    const user = { pauseQuantileMs: 1000 };
    expect(endpointingDelayMs(0.4, D, user)).toBeGreaterThan(endpointingDelayMs(0.4, D));
    expect(endpointingDelayMs(0.4, D, user)).toBeGreaterThanOrEqual(1000 + D.userPauseMarginMs);
    expect(endpointingDelayMs(1, D, user)).toBe(D.minDelayMs);
    expect(endpointingDelayMs(0.4, { ...D, adaptToUser: false }, user)).toBe(endpointingDelayMs(0.4, D));
    expect(endpointingDelayMs(0.5, D, { pauseQuantileMs: 99_000 })).toBeLessThanOrEqual(D.maxDelayMs);
  });
});

describe('UserPauseStats', () => {
  it('says nothing until enough pauses, then gives the quantile; ignores breaths and clips long thinks', () => {
    const stats = new UserPauseStats({ capacity: 5 });
    stats.record(50); // a breath
    stats.record(600);
    stats.record(700);
    expect(stats.summary().pauseQuantileMs).toBeUndefined();
    stats.record(60_000);
    expect(stats.count).toBe(3);
    expect(stats.summary().pauseQuantileMs).toBeLessThanOrEqual(3000);
  });

  it('is bounded and follows the user: old pauses are forgotten', () => {
    const stats = new UserPauseStats({ capacity: 4 });
    for (let i = 0; i < 4; i++) stats.record(2000);
    for (let i = 0; i < 4; i++) stats.record(400);
    expect(stats.count).toBe(4);
    expect(stats.summary().pauseQuantileMs).toBe(400);
  });
});
