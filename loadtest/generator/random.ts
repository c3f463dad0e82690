/**
 * Samplers on top of the shared seeded PRNG (services/common/seeded-random.ts), so arrival times
 * and request lengths of a load test reproduce exactly from one seed — both modes of a
 * `--compare` run see the very same workload.
 */
import { seededRandom } from '../../services/common/seeded-random.js';

export type Uniform = () => number;

export function makeRng(seed: number): Uniform {
  return seededRandom(seed);
}

/** A float in (0, 1): mulberry32 can return exactly 0, which log() cannot take. */
function open01(u: Uniform): number {
  let x = u();
  while (x === 0) x = u();
  return x;
}

/** Exponential with the given mean. */
export function exponential(u: Uniform, mean: number): number {
  return -Math.log(open01(u)) * mean;
}

/** Standard normal by Box–Muller (one of the pair is dropped: simpler, and speed is irrelevant). */
export function standardNormal(u: Uniform): number {
  return Math.sqrt(-2 * Math.log(open01(u))) * Math.cos(2 * Math.PI * u());
}

/**
 * Gamma(shape, scale) by Marsaglia and Tsang's squeeze method. For shape < 1 it samples
 * Gamma(shape + 1) and multiplies by U^(1/shape), the standard boost.
 */
export function gamma(u: Uniform, shape: number, scale: number): number {
  if (!(shape > 0) || !(scale > 0)) throw new Error(`gamma needs shape > 0 and scale > 0, got ${shape}, ${scale}`);
  if (shape < 1) return gamma(u, shape + 1, scale) * Math.pow(open01(u), 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = standardNormal(u);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const w = open01(u);
    if (w < 1 - 0.0331 * x ** 4) return d * v * scale;
    if (Math.log(w) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v * scale;
  }
}
