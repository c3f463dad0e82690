/**
 * bf16 weights with AVX-512 BF16 dot products (TANDEM_ISA=avx512bf16, ADR 0016): activations are
 * rounded to bf16 first, so the reference is the scalar kernel on the rounded activations (the
 * products are then exact in both; only the order of the fp32 sums differs). On a CPU without
 * AVX512_BF16 the table falls back to the best one there is, bit for bit.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { native } from '../ts/index.js';
import { bitsEqual, maxRelDiff, randomBf16, randomF32 } from './helpers.js';

const { ops } = native;
const hasBf16Dot = native.info().bf16Dot;
const SHAPES: Array<[number, number, number]> = [
  [1, 1, 1],
  [1, 17, 5],
  [3, 15, 9],
  [5, 33, 13],
  [13, 100, 31],
  [70, 257, 19],
  [2, 1024, 67],
];

/** Round to nearest even bf16, as vcvtne2ps2bf16 does (finite inputs). */
function roundToBf16(x: Float32Array): Float32Array {
  const u = new Uint32Array(x.slice().buffer);
  for (let i = 0; i < u.length; i++) u[i] = ((u[i]! + 0x7fff + ((u[i]! >>> 16) & 1)) >>> 16) << 16;
  return new Float32Array(u.buffer);
}

describe(`gemm with bf16 dot products (${hasBf16Dot ? 'this CPU has AVX512_BF16' : 'not on this CPU: falls back'})`, () => {
  it.each(SHAPES)('matches the scalar kernel on bf16-rounded activations for M=%i K=%i N=%i', (M, K, N) => {
    const x = randomF32(M * K, M * 31 + K);
    const W = randomBf16(N * K, N * 3 + K);
    const y = new Float32Array(M * N);
    ops.gemmBf16(x, M, K, W, N, y, 'avx512bf16');
    if (!hasBf16Dot) {
      const best = new Float32Array(M * N);
      ops.gemmBf16(x, M, K, W, N, best, native.info().bestIsa);
      expect(bitsEqual(y, best)).toBe(true);
      return;
    }
    const ref = new Float32Array(M * N);
    ops.gemmBf16(roundToBf16(x), M, K, W, N, ref, 'scalar');
    expect(maxRelDiff(y, ref, Math.max(1, Math.sqrt(K)))).toBeLessThan(1e-5);
    // And it is not the fp32-activation kernel: rounding the activations shows.
    const exact = new Float32Array(M * N);
    ops.gemmBf16(x, M, K, W, N, exact, 'scalar');
    if (K >= 33) expect(bitsEqual(y, exact)).toBe(false);
  });

  it('is batch invariant: a row gives the same bits alone, in a decode-sized batch or in any prefill tile', () => {
    const K = 300;
    const N = 37;
    const W = randomBf16(N * K, 5);
    const rows = 70;
    const x = randomF32(rows * K, 6);
    const full = new Float32Array(rows * N);
    ops.gemmBf16(x, rows, K, W, N, full, 'avx512bf16');
    for (const m of [0, 5, 17, 63, 64, 69]) {
      const alone = new Float32Array(N);
      ops.gemmBf16(x.subarray(m * K, (m + 1) * K), 1, K, W, N, alone, 'avx512bf16');
      expect(bitsEqual(alone, full.subarray(m * N, (m + 1) * N)), `row ${m}`).toBe(true);
    }
    for (const [from, count] of [[3, 4], [3, 9], [10, 33]] as const) {
      const part = new Float32Array(count * N);
      ops.gemmBf16(x.subarray(from * K, (from + count) * K), count, K, W, N, part, 'avx512bf16');
      expect(bitsEqual(part, full.subarray(from * N, (from + count) * N)), `${count} rows from ${from}`).toBe(true);
    }
  });

  it('TANDEM_ISA=avx512bf16 selects it for the whole process only where the CPU has it', () => {
    const built = join(import.meta.dirname, '..', '..', 'dist', 'kernels', 'ts', 'index.js');
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', `import { native } from ${JSON.stringify(built)}; console.log(JSON.stringify(native.info()));`], { env: { ...process.env, TANDEM_ISA: 'avx512bf16' }, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const info = JSON.parse(r.stdout) as { isa: string; bestIsa: string };
    expect(info.isa).toBe(hasBf16Dot ? 'avx512bf16' : info.bestIsa);
  });
});
