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
    // Contiguous when it is close, but never ending after the chunk arrived: after a stall, a burst stamped
    // into the future would place the user's speech later than it was heard (negative interruption times).
    const timestampMs =
      this.endMs !== undefined && this.endMs <= expected && expected - this.endMs <= this.toleranceMs
        ? this.endMs
        : expected;
    this.endMs = timestampMs + durationMs;
    return timestampMs;
  }
}
