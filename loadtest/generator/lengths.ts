/**
 * Token-length distributions for synthetic prompts and outputs, parsed from short specs:
 *
 *   fixed:N                 always N
 *   uniform:A-B             integers A..B inclusive
 *   normal:MEAN,STD[,A-B]   rounded normal clamped to [A, B] (default [1, MEAN + 4 STD])
 *   mixed:P*SPEC+Q*SPEC...  a mixture: each sample picks a component with weight P, Q, ...
 *                           e.g. mixed:0.2*fixed:1024+0.8*uniform:32-96 (long/short prompts)
 */
import { standardNormal, type Uniform } from './random.js';

export interface LengthDist {
  spec: string;
  sample(u: Uniform): number;
  /** the expected value, for sizing a run and for tests */
  mean: number;
}

function int(s: string | undefined, what: string, spec: string): number {
  const n = Number(s);
  if (s === undefined || s.trim() === '' || !Number.isFinite(n)) throw new Error(`bad ${what} in length spec '${spec}'`);
  return n;
}

function range(s: string, spec: string): [number, number] {
  const m = /^(\d+)-(\d+)$/.exec(s.trim());
  if (!m) throw new Error(`bad range '${s}' in length spec '${spec}' (want A-B)`);
  const a = Number(m[1]);
  const b = Number(m[2]);
  if (a < 1 || b < a) throw new Error(`range '${s}' in length spec '${spec}' must have 1 <= A <= B`);
  return [a, b];
}

function clampedNormalMean(mean: number, std: number, lo: number, hi: number): number {
  // Estimated numerically once: exact enough for sizing, and clamping makes closed forms messy.
  let s = 0;
  const n = 2000;
  for (let i = 0; i < n; i++) {
    const z = Math.SQRT2 * inverseErf((2 * (i + 0.5)) / n - 1);
    s += Math.min(hi, Math.max(lo, Math.round(mean + std * z)));
  }
  return s / n;
}

/** Winitzki's approximation of erf^-1, good to ~1e-3: only used for the mean above. */
function inverseErf(x: number): number {
  const a = 0.147;
  const ln = Math.log(1 - x * x);
  const t = 2 / (Math.PI * a) + ln / 2;
  return Math.sign(x) * Math.sqrt(Math.sqrt(t * t - ln / a) - t);
}

export function parseLengthSpec(spec: string): LengthDist {
  const s = spec.trim();
  const colon = s.indexOf(':');
  if (colon < 0) throw new Error(`length spec '${spec}' needs a kind: fixed:N, uniform:A-B, normal:MEAN,STD[,A-B] or mixed:P*SPEC+...`);
  const kind = s.slice(0, colon);
  const arg = s.slice(colon + 1);
  switch (kind) {
    case 'fixed': {
      const n = int(arg, 'length', spec);
      if (!Number.isInteger(n) || n < 1) throw new Error(`fixed length must be an integer >= 1 in '${spec}'`);
      return { spec: s, mean: n, sample: () => n };
    }
    case 'uniform': {
      const [a, b] = range(arg, spec);
      return { spec: s, mean: (a + b) / 2, sample: (u) => a + Math.floor(u() * (b - a + 1)) };
    }
    case 'normal': {
      const [m, sd, r] = arg.split(',');
      const mean = int(m, 'mean', spec);
      const std = int(sd, 'std', spec);
      if (mean < 1 || std < 0) throw new Error(`normal needs MEAN >= 1 and STD >= 0 in '${spec}'`);
      const [lo, hi] = r ? range(r, spec) : [1, Math.max(1, Math.round(mean + 4 * std))];
      return {
        spec: s,
        mean: clampedNormalMean(mean, std, lo, hi),
        sample: (u) => Math.min(hi, Math.max(lo, Math.round(mean + std * standardNormal(u)))),
      };
    }
    case 'mixed': {
      const parts = arg.split('+').map((p) => {
        const star = p.indexOf('*');
        if (star < 0) throw new Error(`mixed component '${p}' in '${spec}' needs WEIGHT*SPEC`);
        const w = int(p.slice(0, star), 'weight', spec);
        if (!(w > 0)) throw new Error(`mixed weights must be > 0 in '${spec}'`);
        return { w, dist: parseLengthSpec(p.slice(star + 1)) };
      });
      const total = parts.reduce((a, p) => a + p.w, 0);
      return {
        spec: s,
        mean: parts.reduce((a, p) => a + (p.w / total) * p.dist.mean, 0),
        sample: (u) => {
          let x = u() * total;
          for (const p of parts) {
            if (x < p.w) return p.dist.sample(u);
            x -= p.w;
          }
          return parts[parts.length - 1]!.dist.sample(u);
        },
      };
    }
    default:
      throw new Error(`unknown length distribution '${kind}' in '${spec}' (fixed, uniform, normal, mixed)`);
  }
}
