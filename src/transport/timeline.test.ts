import { describe, expect, it } from 'vitest';
import { ArrivalTimeline } from './timeline.ts';

describe('ArrivalTimeline', () => {
  it('keeps a real-time stream contiguous despite arrival jitter', () => {
    const timeline = new ArrivalTimeline();
    expect(timeline.stamp(1020, 20)).toBe(1000);
    expect(timeline.stamp(1045, 20)).toBe(1020); // arrived 5 ms late: still contiguous
    expect(timeline.stamp(1060, 20)).toBe(1040);
  });

  it('never stamps a chunk as ending after it arrived, even in the burst after a stall', () => {
    const timeline = new ArrivalTimeline();
    timeline.stamp(1020, 20);
    // The event loop stalled for 100 ms; five frames arrive at once.
    const stamps = [0, 1, 2, 3, 4].map(() => timeline.stamp(1120, 20));
    for (const stamp of stamps) expect(stamp + 20).toBeLessThanOrEqual(1120);
    // Then real time again, contiguous with arrival.
    expect(timeline.stamp(1140, 20)).toBe(1120);
  });

  it('re-anchors on arrival after a gap', () => {
    const timeline = new ArrivalTimeline();
    timeline.stamp(1020, 20);
    expect(timeline.stamp(3020, 20)).toBe(3000);
  });
});
