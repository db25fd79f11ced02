import { DEFAULT_FRAME_MS } from '../audio/frame.ts';

/**
 * Stamps the chunks of a live audio stream on the session clock as they arrive: contiguous while the stream
 * runs in real time (arrival jitter does not bend the timeline), re-anchored to arrival after a gap or a burst.
 */
export class ArrivalTimeline {
  private endMs: number | undefined;

  constructor(private readonly toleranceMs = 4 * DEFAULT_FRAME_MS) {}

  /** Session time of the first sample of a chunk of `durationMs` that has just fully arrived at `nowMs`. */
  stamp(nowMs: number, durationMs: number): number {
    const expected = nowMs - durationMs;
    const timestampMs =
      this.endMs !== undefined && Math.abs(this.endMs - expected) <= this.toleranceMs ? this.endMs : expected;
    this.endMs = timestampMs + durationMs;
    return timestampMs;
  }
}
