/** Arrival processes: right mean rate, right burstiness, reproducible from the seed. */
import { describe, expect, it } from 'vitest';
import { arrivalOffsets } from '../../loadtest/generator/arrivals.js';
import { gamma, makeRng } from '../../loadtest/generator/random.js';

function gaps(offsets: number[]): number[] {
  return offsets.slice(1).map((t, i) => t - offsets[i]!);
}

function meanAndCv(xs: number[]): { mean: number; cv: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1);
  return { mean, cv: Math.sqrt(variance) / mean };
}

describe('arrival offsets', () => {
  it('Poisson: mean rate within 2% over 50,000 arrivals, exponential gaps (CV 1)', () => {
    const offsets = arrivalOffsets({ rate: 8, count: 50_001, seed: 7 });
    expect(offsets[0]).toBe(0);
    const rate = 50_000 / offsets[offsets.length - 1]!;
    expect(Math.abs(rate - 8) / 8).toBeLessThan(0.02);
    const { cv } = meanAndCv(gaps(offsets));
    expect(cv).toBeGreaterThan(0.97);
    expect(cv).toBeLessThan(1.03);
    // An exponential's share of gaps below the mean is 1 - 1/e.
    const below = gaps(offsets).filter((g) => g < 1 / 8).length / 50_000;
    expect(below).toBeCloseTo(1 - Math.exp(-1), 2);
  });

  it('gamma bursts: same mean rate, CV = 1/sqrt(burstiness)', () => {
    for (const burstiness of [0.25, 4]) {
      const offsets = arrivalOffsets({ rate: 5, burstiness, count: 50_001, seed: 3 });
      const { mean, cv } = meanAndCv(gaps(offsets));
      expect(Math.abs(mean - 0.2) / 0.2).toBeLessThan(0.03);
      expect(Math.abs(cv - 1 / Math.sqrt(burstiness)) / (1 / Math.sqrt(burstiness))).toBeLessThan(0.05);
    }
  });

  it('burstier arrivals bunch up: more gaps far below the mean than Poisson', () => {
    const tiny = (b: number) => gaps(arrivalOffsets({ rate: 1, burstiness: b, count: 20_001, seed: 1 })).filter((g) => g < 0.05).length;
    expect(tiny(0.25)).toBeGreaterThan(3 * tiny(1));
  });

  it('is a pure function of the seed', () => {
    const a = arrivalOffsets({ rate: 3, burstiness: 0.5, count: 100, seed: 42 });
    expect(arrivalOffsets({ rate: 3, burstiness: 0.5, count: 100, seed: 42 })).toEqual(a);
    expect(arrivalOffsets({ rate: 3, burstiness: 0.5, count: 100, seed: 43 })).not.toEqual(a);
    for (let i = 1; i < a.length; i++) expect(a[i]!).toBeGreaterThanOrEqual(a[i - 1]!);
  });

  it('rate inf sends everything at once; bad rates are refused', () => {
    expect(arrivalOffsets({ rate: Infinity, count: 4, seed: 0 })).toEqual([0, 0, 0, 0]);
    expect(() => arrivalOffsets({ rate: 0, count: 4, seed: 0 })).toThrow(/rate/);
    expect(() => arrivalOffsets({ rate: 1, burstiness: -1, count: 4, seed: 0 })).toThrow(/burstiness/);
  });
});

describe('gamma sampler', () => {
  it('mean shape × scale and variance shape × scale² for shapes below and above 1', () => {
    for (const [shape, scale] of [[0.5, 2], [3, 0.5]] as const) {
      const u = makeRng(11);
      const xs = Array.from({ length: 40_000 }, () => gamma(u, shape, scale));
      const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
      const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1);
      expect(Math.abs(mean - shape * scale) / (shape * scale)).toBeLessThan(0.03);
      expect(Math.abs(variance - shape * scale * scale) / (shape * scale * scale)).toBeLessThan(0.06);
    }
  });
});
