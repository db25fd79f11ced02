/**
 * Latencies of simulated providers: a fixed delay or a uniform range, drawn from a seeded generator so two
 * runs of a benchmark see the same sequence of delays.
 */
export type LatencySpec = number | { minMs: number; maxMs: number };

export class LatencySpecError extends RangeError {
  override readonly name = 'LatencySpecError';
}

export function validateLatency(spec: LatencySpec, what: string): void {
  const ok = (v: number) => Number.isFinite(v) && v >= 0;
  if (typeof spec === 'number') {
    if (!ok(spec)) throw new LatencySpecError(`${what} must be a finite number of ms >= 0, got ${spec}`);
    return;
  }
  if (!spec || !ok(spec.minMs) || !ok(spec.maxMs) || spec.minMs > spec.maxMs) {
    throw new LatencySpecError(
      `${what} must be { minMs, maxMs } with 0 <= minMs <= maxMs, got ${JSON.stringify(spec)}`,
    );
  }
}

/** mulberry32: a tiny, fast, well-distributed 32-bit generator; uniform in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Draws delays in ms following `spec`. */
export function latencySampler(spec: LatencySpec, random: () => number, what = 'latency'): () => number {
  validateLatency(spec, what);
  if (typeof spec === 'number') return () => spec;
  const { minMs, maxMs } = spec;
  return () => minMs + random() * (maxMs - minMs);
}

export function describeLatency(spec: LatencySpec): string {
  return typeof spec === 'number' ? `${spec} ms` : `${spec.minMs}-${spec.maxMs} ms`;
}
