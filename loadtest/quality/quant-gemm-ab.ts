/**
 * In-process A/B of the wint4 GEMM layouts on the ERNIE-4.5-0.3B matrix shapes (docs/benchmarks.md,
 * "wint4 at groups of 32"): symmetric groups of 128 (the wint4 of ADR 0013), symmetric groups of
 * 32, groups of 32 with zero points (wint4 now) and groups of 128 with zero points, all in one
 * process on one thread pool, alternated, so a shared machine's load hits every variant alike.
 *
 *     node dist/loadtest/quality/quant-gemm-ab.js [--isa avx512|avx2|scalar] [--layers 6]
 *
 * Prints, for decode (M = 1) and prefill (M = 128), each variant's 25th-percentile time over 30
 * matrices per layer set, and the ratio of wint4 now to the old layout.
 */
import { native, type KernelImpl } from '../../kernels/ts/index.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

/** Deterministic uniform values in [-scale, scale], as bf16 bits (round to nearest even). */
function bf16Uniform(n: number, seed: number, scale: number): Uint16Array {
  const out = new Uint16Array(n);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    f[0] = (s / 4294967296 - 0.5) * 2 * scale;
    out[i] = (u[0]! + 0x7fff + ((u[0]! >>> 16) & 1)) >>> 16;
  }
  return out;
}

function f32Uniform(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    out[i] = (s / 4294967296 - 0.5) * 2;
  }
  return out;
}

const isa = arg('isa', 'avx512') as KernelImpl;
const layers = Number(arg('layers', '6'));
// One 0.3B layer: q and o [1024, 1024], gate and up [3072, 1024], down [1024, 3072] (k and v are small).
const shapes: Array<[number, number]> = [];
for (let l = 0; l < layers; l++) shapes.push([1024, 1024], [1024, 1024], [3072, 1024], [3072, 1024], [1024, 3072]);
const bf16 = shapes.map(([N, K], i) => ({ N, K, W: bf16Uniform(N * K, i + 1, 0.05) }));
const variants = (
  [
    ['g128 (before)', 128, false],
    ['g32', 32, false],
    ['g32 zero points (now)', 32, true],
    ['g128 zero points', 128, true],
  ] as const
).map(([name, group, zp]) => ({ name, group, mats: bf16.map((m) => ({ ...m, q: native.quantizeWeights(m.W, m.N, m.K, 4, group, false, zp) })) }));
const xs = new Map<string, Float32Array>();
for (const M of [1, 128]) for (const K of [1024, 3072]) xs.set(`${M}x${K}`, f32Uniform(M * K, M + K));

function run(v: (typeof variants)[number], M: number): number {
  const t = performance.now();
  for (const m of v.mats) {
    const y = new Float32Array(M * m.N);
    native.ops.gemmQ(xs.get(`${M}x${m.K}`)!, M, m.K, m.q.data, m.q.scales, m.N, 4, v.group, y, isa, false, m.q.zeros);
  }
  return performance.now() - t;
}

for (const M of [1, 128]) {
  const times = variants.map(() => [] as number[]);
  for (let rep = 0; rep < (M === 1 ? 40 : 8); rep++) variants.forEach((v, i) => times[i]!.push(run(v, M)));
  const p25 = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 4)]!;
  const line = variants.map((v, i) => `${v.name} ${p25(times[i]!).toFixed(2)} ms`).join(', ');
  console.log(`${isa} M=${M}: ${line}; now / before ${(p25(times[2]!) / p25(times[0]!)).toFixed(3)}`);
}
