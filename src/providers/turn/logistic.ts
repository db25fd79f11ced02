import type { FeatureVector } from './text-features.ts';

/** A fitted logistic regression: P = σ(bias + Σ weight·feature); a missing feature counts as its mean. */
export interface LogisticModel {
  bias: number;
  weights: Readonly<Record<string, number>>;
  /** Feature means on the fitting data: a signal that is unavailable (no model file) then shifts nothing. */
  means: Readonly<Record<string, number>>;
}

export const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

export function logit(p: number): number {
  const q = Math.min(1 - 1e-6, Math.max(1e-6, p));
  return Math.log(q / (1 - q));
}

/** The model's log-odds for `features`. */
export function logisticLogit(model: LogisticModel, features: FeatureVector): number {
  let z = model.bias;
  for (const [name, weight] of Object.entries(model.weights)) {
    const value = features[name] ?? model.means[name] ?? 0;
    if (Number.isFinite(value)) z += weight * value;
  }
  return z;
}

export function logisticProbability(model: LogisticModel, features: FeatureVector): number {
  return sigmoid(logisticLogit(model, features));
}

export interface FitOptions {
  /** L2 penalty on the weights (not the bias), per sample. */
  l2: number;
  iterations: number;
}

/**
 * Fits a logistic regression by Newton's method (IRLS) on a few hundred samples: exact, deterministic, fast.
 * Features are used as given; the names come from the first sample's keys plus any later ones.
 */
export function fitLogistic(
  samples: readonly { features: FeatureVector; label: 0 | 1 }[],
  names: readonly string[],
  options: FitOptions = { l2: 0.01, iterations: 30 },
): LogisticModel {
  const means: Record<string, number> = {};
  for (const name of names) {
    const values = samples.map((s) => s.features[name]).filter((v) => v !== undefined);
    means[name] = values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0;
  }
  const rows = samples.map((s) => [1, ...names.map((n) => s.features[n] ?? means[n])]);
  const d = names.length + 1;
  const beta = new Array<number>(d).fill(0);
  const n = samples.length;
  for (let iter = 0; iter < options.iterations; iter++) {
    const gradient = new Array<number>(d).fill(0);
    const hessian = Array.from({ length: d }, () => new Array<number>(d).fill(0));
    rows.forEach((x, i) => {
      const p = sigmoid(x.reduce((z, v, j) => z + v * beta[j], 0));
      const w = p * (1 - p);
      for (let j = 0; j < d; j++) {
        gradient[j] += (p - samples[i].label) * x[j];
        for (let k = 0; k < d; k++) hessian[j][k] += w * x[j] * x[k];
      }
    });
    for (let j = 1; j < d; j++) {
      gradient[j] += options.l2 * n * beta[j];
      hessian[j][j] += options.l2 * n;
    }
    const step = solve(hessian, gradient);
    for (let j = 0; j < d; j++) beta[j] -= step[j];
  }
  const weights: Record<string, number> = {};
  names.forEach((name, j) => {
    weights[name] = beta[j + 1];
  });
  return { bias: beta[0], weights, means };
}

/** Gaussian elimination with partial pivoting; the L2 term keeps the system well posed. */
function solve(a: number[][], b: number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]]);
  for (let c = 0; c < n; c++) {
    let pivot = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r][c]) > Math.abs(m[pivot][c])) pivot = r;
    [m[c], m[pivot]] = [m[pivot], m[c]];
    const diag = m[c][c] || 1e-12;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r][c] / diag;
      for (let k = c; k <= n; k++) m[r][k] -= f * m[c][k];
    }
  }
  return m.map((row, i) => row[n] / (row[i] || 1e-12));
}
