/** Distribution summary of a sample, with the percentiles serving benchmarks quote. */
import { percentile } from '../../services/cli/bench/percentiles.js';

export interface Distribution {
  n: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** An empty sample gives NaN fields (null after roundDistribution), not zeros that look measured. */
export function distribution(values: readonly number[]): Distribution {
  const n = values.length;
  return {
    n,
    mean: n ? values.reduce((a, b) => a + b, 0) / n : NaN,
    p50: percentile(values, 50),
    p90: percentile(values, 90),
    p99: percentile(values, 99),
    max: n ? values.reduce((a, b) => (b > a ? b : a), -Infinity) : NaN,
  };
}

/** Rounds for printing and JSON: 3 decimals is microseconds on millisecond figures. */
export function round3(x: number): number | null {
  return Number.isFinite(x) ? Math.round(x * 1000) / 1000 : null;
}

export function roundDistribution(d: Distribution): Record<keyof Distribution, number | null> {
  return { n: d.n, mean: round3(d.mean), p50: round3(d.p50), p90: round3(d.p90), p99: round3(d.p99), max: round3(d.max) };
}
