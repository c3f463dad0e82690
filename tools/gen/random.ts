/**
 * Deterministic random numbers for generated checkpoints. Each tensor gets its own stream keyed by
 * (seed, tensor name), so a tensor's values do not depend on which other tensors exist or on the
 * order they are written in. Normal samples come from an inverse-CDF table of 65,536 quantiles
 * (linearly interpolated for fp32 output), which is exact arithmetic on fixed tables — the same
 * bytes on every platform — and fast enough to fill a 0.3B-parameter checkpoint in seconds.
 */
import { f32ToBf16 } from '../../services/engine/weights/dtype.js';

/** 32-bit FNV-1a of a string's UTF-16 code units. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A 32-bit finalizer (good avalanche); used for seeding. */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

/** xoshiro128** — 128-bit state, 32-bit output. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number, stream: string) {
    let k = mix32(fnv1a(stream) ^ mix32((seed >>> 0) + 0x9e3779b9)) ^ mix32(Math.floor(seed / 2 ** 32));
    const next = () => (k = mix32((k + 0x9e3779b9) >>> 0));
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1;
  }

  /** Next uniformly distributed 32-bit unsigned integer. */
  nextU32(): number {
    const r = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return r;
  }

  /** A standard-normal sample (tails truncated beyond about ±4.4σ). */
  normal(): number {
    const z = quantiles();
    const u = this.nextU32();
    const i = u >>> 16;
    const frac = (u & 0xffff) / 65536;
    const lo = z[i]!;
    const hi = i === 65535 ? lo : z[i + 1]!;
    return lo + (hi - lo) * frac;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

let zTable: Float64Array | undefined;

/** Standard normal CDF via Φ(x) = ½ + φ(x)·Σ x^(2n+1)/(2n+1)!! (all terms positive: no cancellation). */
function normalCdf(x: number): number {
  if (x < -9) return 0;
  if (x > 9) return 1;
  let term = x;
  let sum = x;
  const x2 = x * x;
  for (let k = 3; Math.abs(term) > 1e-17 * Math.abs(sum); k += 2) {
    term *= x2 / k;
    sum += term;
  }
  return 0.5 + sum * Math.exp(-x2 / 2) / Math.sqrt(2 * Math.PI);
}

/** z[i] = Φ⁻¹((i + ½) / 65536), by bisection (computed once, ~0.1 s). */
function quantiles(): Float64Array {
  if (zTable) return zTable;
  const z = new Float64Array(65536);
  for (let i = 32768; i < 65536; i++) {
    const p = (i + 0.5) / 65536;
    let lo = 0;
    let hi = 6;
    for (let it = 0; it < 48; it++) {
      const mid = (lo + hi) / 2;
      if (normalCdf(mid) < p) lo = mid;
      else hi = mid;
    }
    z[i] = (lo + hi) / 2;
    z[65535 - i] = -z[i]!;
  }
  zTable = z;
  return z;
}

const bf16Tables = new Map<string, Uint16Array>();

/** bf16 bits of mean + std·z[i] for every quantile i; cached per (mean, std). */
function bf16NormalTable(mean: number, std: number): Uint16Array {
  const key = `${mean}/${std}`;
  let t = bf16Tables.get(key);
  if (!t) {
    const z = quantiles();
    t = new Uint16Array(65536);
    for (let i = 0; i < 65536; i++) t[i] = f32ToBf16(mean + std * z[i]!);
    bf16Tables.set(key, t);
  }
  return t;
}

/** `count` bf16 samples of N(mean, std²) from the stream (seed, name). */
export function bf16Normal(seed: number, name: string, count: number, mean: number, std: number): Uint16Array {
  const table = bf16NormalTable(mean, std);
  const rng = new Rng(seed, name);
  const out = new Uint16Array(count);
  let i = 0;
  for (; i + 1 < count; i += 2) {
    const u = rng.nextU32();
    out[i] = table[u >>> 16]!;
    out[i + 1] = table[u & 0xffff]!;
  }
  if (i < count) out[i] = table[rng.nextU32() >>> 16]!;
  return out;
}

/** `count` fp32 samples of N(mean, std²) from the stream (seed, name). */
export function f32Normal(seed: number, name: string, count: number, mean: number, std: number): Float32Array {
  const rng = new Rng(seed, name);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = mean + std * rng.normal();
  return out;
}

/** Standard deviation for a matrix init: 0.02 at fan-in 1024 (HF initializer_range), scaled as 1/√fan-in. */
export function initStd(fanIn: number): number {
  return 0.02 * Math.sqrt(1024 / fanIn);
}
