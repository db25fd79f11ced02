/** Nearest-rank percentile of finite values; null for an empty set. */
export function percentile(values: readonly number[], p: number): number | null {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

export interface Summary {
  count: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  mean: number | null;
}

export function summarize(values: readonly (number | null | undefined)[]): Summary {
  const finite = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  return {
    count: finite.length,
    p50: percentile(finite, 50),
    p95: percentile(finite, 95),
    p99: percentile(finite, 99),
    mean: finite.length ? finite.reduce((a, b) => a + b, 0) / finite.length : null,
  };
}
