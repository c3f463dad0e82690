import { describe, expect, it } from 'vitest';
import { native, type QuantBits } from '../ts/index.js';
import { encodeBf16 } from '../../services/engine/reference/index.js';
import { bitsEqual, maxRelDiff, optimizedImpls, randomBf16, randomF32 } from './helpers.js';

const { ops } = native;
// Odd shapes: K not a multiple of the group (padding), M and N not multiples of any tile.
const SHAPES: Array<[number, number, number, number]> = [
  [1, 1, 1, 128],
  [1, 70, 5, 128],
  [3, 129, 9, 128],
  [7, 200, 13, 256],
  [13, 333, 31, 128],
  [70, 257, 19, 128],
  [2, 1024, 67, 256],
];

function gemmQ(x: Float32Array, M: number, K: number, W: Uint16Array, N: number, bits: QuantBits, group: number, impl: 'scalar' | 'avx2' | 'avx512') {
  const q = native.quantizeWeights(W, N, K, bits, group);
  const y = new Float32Array(M * N);
  ops.gemmQ(x, M, K, q.data, q.scales, N, bits, group, y, impl);
  return y;
}

// wint4's groups of 32 and 64 (interleaved within each 128-element block, quant.h) at the same odd shapes.
const SUB_SHAPES: Array<[number, number, number, number]> = SHAPES.flatMap(([M, K, N]) => [[M, K, N, 32], [M, K, N, 64]] as Array<[number, number, number, number]>);

describe('wint4 groups of 32 and 64', () => {
  it.each(SUB_SHAPES)('optimized matches the scalar reference for M=%i K=%i N=%i group=%i', (M, K, N, group) => {
    const x = randomF32(M * K, M * 31 + K);
    const W = randomBf16(N * K, N * 3 + K, 0.1);
    const ref = gemmQ(x, M, K, W, N, 4, group, 'scalar');
    for (const impl of optimizedImpls()) expect(maxRelDiff(gemmQ(x, M, K, W, N, 4, group, impl), ref, 0.1 * Math.sqrt(K)), impl).toBeLessThan(1e-5);
  });

  it('smaller groups are closer to the bf16 product, and every width is batch invariant', () => {
    const [M, K, N] = [6, 640, 40];
    const x = randomF32(M * K, 3);
    // Heavy-tailed weights (a few large ones per row), where one scale per 128 wastes most levels.
    const W = randomBf16(N * K, 4, 0.05);
    const Wf = new Float32Array(N * K);
    for (let i = 0; i < N * K; i++) {
      const v = new Float32Array(new Uint32Array([W[i]! << 16]).buffer)[0]!;
      Wf[i] = i % 61 === 0 ? v * 12 : v;
    }
    const Wb = encodeBf16(Wf);
    const exact = new Float32Array(M * N);
    ops.gemmBf16(x, M, K, Wb, N, exact, 'scalar');
    const err = (group: number) => {
      const y = gemmQ(x, M, K, Wb, N, 4, group, 'scalar');
      let e = 0;
      let n = 0;
      for (let i = 0; i < y.length; i++) {
        e += (y[i]! - exact[i]!) ** 2;
        n += exact[i]! ** 2;
      }
      return Math.sqrt(e / n);
    };
    expect(err(64)).toBeLessThan(err(128));
    expect(err(32)).toBeLessThan(err(64));
    for (const group of [32, 64]) {
      const q = native.quantizeWeights(Wb, N, K, 4, group);
      for (const impl of ['scalar', ...optimizedImpls()] as const) {
        const run = (xs: Float32Array, m: number) => {
          const y = new Float32Array(m * N);
          ops.gemmQ(xs, m, K, q.data, q.scales, N, 4, group, y, impl);
          return y;
        };
        const full = run(x, M);
        for (const m of [0, 3, 5]) expect(bitsEqual(run(x.subarray(m * K, (m + 1) * K), 1), full.subarray(m * N, (m + 1) * N)), `${impl} g${group} row ${m}`).toBe(true);
        expect(bitsEqual(run(x.subarray(1 * K, 4 * K), 3), full.subarray(1 * N, 4 * N)), `${impl} g${group}`).toBe(true);
      }
    }
  });
});

describe('wint4 with zero points (asymmetric groups, quant.h Linear::zeros)', () => {
  const ZP_SHAPES: Array<[number, number, number, number]> = SHAPES.flatMap(([M, K, N, g]) => [32, 64, g].map((group) => [M, K, N, group] as [number, number, number, number]));
  // Skewed weights (a positive offset per row), where a symmetric grid wastes half its levels.
  const skewed = (n: number, seed: number, cols: number) => {
    const w = randomF32(n, seed, 0.05);
    for (let i = 0; i < n; i++) w[i]! += 0.03 * ((Math.floor(i / cols) % 3) + 1);
    return encodeBf16(w);
  };
  const run = (x: Float32Array, M: number, K: number, q: { data: Uint8Array; scales: Float32Array; zeros?: Uint8Array }, N: number, group: number, impl: 'scalar' | 'avx2' | 'avx512') => {
    const y = new Float32Array(M * N);
    ops.gemmQ(x, M, K, q.data, q.scales, N, 4, group, y, impl, false, q.zeros);
    return y;
  };

  it.each(ZP_SHAPES)('optimized matches the scalar reference for M=%i K=%i N=%i group=%i', (M, K, N, group) => {
    const x = randomF32(M * K, M * 13 + K);
    const q = native.quantizeWeights(skewed(N * K, N + K, K), N, K, 4, group, false, true);
    expect(q.zeros!.length).toBe(q.scales.length);
    const ref = run(x, M, K, q, N, group, 'scalar');
    for (const impl of optimizedImpls()) expect(maxRelDiff(run(x, M, K, q, N, group, impl), ref, 0.1 * Math.sqrt(K)), impl).toBeLessThan(1e-5);
  });

  it('is closer to the bf16 product than the symmetric grid, and batch invariant on every ISA', () => {
    const [M, K, N] = [9, 384, 36];
    const x = randomF32(M * K, 21);
    const W = skewed(N * K, 22, K);
    const exact = new Float32Array(M * N);
    ops.gemmBf16(x, M, K, W, N, exact, 'scalar');
    const relErr = (y: Float32Array) => {
      let e = 0;
      let n = 0;
      for (let i = 0; i < y.length; i++) {
        e += (y[i]! - exact[i]!) ** 2;
        n += exact[i]! ** 2;
      }
      return Math.sqrt(e / n);
    };
    for (const group of [32, 128]) {
      const zp = native.quantizeWeights(W, N, K, 4, group, false, true);
      const sym = native.quantizeWeights(W, N, K, 4, group);
      expect(relErr(run(x, M, K, zp, N, group, 'scalar'))).toBeLessThan(0.8 * relErr(run(x, M, K, sym, N, group, 'scalar')));
      for (const impl of ['scalar', ...optimizedImpls()] as const) {
        const full = run(x, M, K, zp, N, group, impl);
        for (const m of [0, 4, 8]) expect(bitsEqual(run(x.subarray(m * K, (m + 1) * K), 1, K, zp, N, group, impl), full.subarray(m * N, (m + 1) * N)), `${impl} g${group} row ${m}`).toBe(true);
        expect(bitsEqual(run(x.subarray(2 * K, 7 * K), 5, K, zp, N, group, impl), full.subarray(2 * N, 7 * N)), impl).toBe(true);
      }
    }
  });

  it('format: nibble u and zero point z in [0, 15], weight (u - z) * scale; zeros and padding stay exactly 0; 8 bits refuse zero points', () => {
    const row = new Float32Array(100);
    for (let i = 0; i < 100; i++) row[i] = 0.1 + 0.01 * (i % 9); // all positive: z = 0
    row[3] = 0;
    const q = native.quantizeWeights(encodeBf16(row), 1, 100, 4, 32, false, true);
    expect(q.zeros!.length).toBe(4);
    const nib = (k: number) => (k % 128 < 64 ? q.data[k % 64]! & 15 : q.data[k % 64]! >> 4);
    const group = (k: number) => Math.floor((k % 64) / 16);
    const wq = (k: number) => (nib(k) - q.zeros![group(k)]!) * q.scales[group(k)]!;
    expect(q.zeros![0]).toBe(0);
    expect(wq(3)).toBe(0);
    for (let k = 100; k < 128; k++) expect(wq(k)).toBe(0);
    // Within half a step of each weight (the chosen range may clip the largest by a little more).
    for (let k = 0; k < 100; k++) expect(Math.abs(wq(k) - row[k]!)).toBeLessThanOrEqual(Math.abs(q.scales[group(k)]!) * 1.5);
    expect(() => native.quantizeWeights(encodeBf16(row), 1, 100, 8, 0, false, true)).toThrow(/zero points are for 4-bit weights only/);
  });
});

describe('wint4 panels (zero points, groups of 32: quant.h uses_panels)', () => {
  const run = (x: Float32Array, M: number, K: number, q: { data: Uint8Array; scales: Float32Array; zeros?: Uint8Array }, N: number, impl: 'scalar' | 'avx2' | 'avx512') => {
    const y = new Float32Array(M * N);
    ops.gemmQ(x, M, K, q.data, q.scales, N, 4, 32, y, impl, false, q.zeros);
    return y;
  };

  it('whole panels of 16 rows are the row-major codes transposed in 4-byte words; the rows after them stay row-major', () => {
    const [N, K] = [37, 200]; // two panels and 5 rows after them; K pads to 256
    const W = randomBf16(N * K, 8, 0.05);
    const q = native.quantizeWeights(W, N, K, 4, 32, false, true);
    const rowBytes = 128, groups = 8;
    for (const n of [0, 5, 15, 16, 31, 32, 36]) {
      const one = native.quantizeWeights(W.subarray(n * K, (n + 1) * K), 1, K, 4, 32, false, true);
      const p = Math.floor(n / 16), c = n % 16;
      const inPanel = n < 32;
      for (let b = 0; b < rowBytes; b++) {
        const at = inPanel ? p * 16 * rowBytes + (Math.floor(b / 4) * 16 + c) * 4 + (b % 4) : n * rowBytes + b;
        expect(q.data[at], `row ${n} byte ${b}`).toBe(one.data[b]);
      }
      for (let g = 0; g < groups; g++) {
        const at = inPanel ? p * 16 * groups + g * 16 + c : n * groups + g;
        expect([q.scales[at], q.zeros![at]], `row ${n} group ${g}`).toEqual([one.scales[g], one.zeros![g]]);
      }
    }
  });

  it('every ISA computes the same bits (one fp32 order), at every batch size and row range', () => {
    for (const [M, K, N] of [[1, 70, 5], [3, 129, 16], [13, 333, 37], [70, 257, 48], [9, 1024, 96]] as const) {
      const x = randomF32(M * K, M + 7 * K);
      const q = native.quantizeWeights(randomBf16(N * K, N + K, 0.1), N, K, 4, 32, false, true);
      const ref = run(x, M, K, q, N, 'scalar');
      for (const impl of optimizedImpls()) {
        expect(bitsEqual(run(x, M, K, q, N, impl), ref), `${impl} M=${M} K=${K} N=${N}`).toBe(true);
        for (const m of [0, M - 1]) expect(bitsEqual(run(x.subarray(m * K, (m + 1) * K), 1, K, q, N, impl), ref.subarray(m * N, (m + 1) * N)), `${impl} row ${m}`).toBe(true);
      }
    }
  });
});

describe.each([8, 4] as const)('wint%i weights x dynamically quantized activations', (bits) => {
  it.each(SHAPES)('optimized matches the scalar reference for M=%i K=%i N=%i group=%i', (M, K, N, group) => {
    const x = randomF32(M * K, M * 31 + K);
    const W = randomBf16(N * K, N * 3 + K, 0.1);
    const ref = gemmQ(x, M, K, W, N, bits, group, 'scalar');
    for (const impl of optimizedImpls()) {
      // Integer group sums are exact on every ISA; only the fp32 sum of the groups is reordered.
      expect(maxRelDiff(gemmQ(x, M, K, W, N, bits, group, impl), ref, 0.1 * Math.sqrt(K)), impl).toBeLessThan(1e-5);
    }
  });

  it('stays close to the bf16 product (the quantization error is bounded)', () => {
    const [M, K, N] = [4, 512, 48];
    const x = randomF32(M * K, 1);
    const W = randomBf16(N * K, 2, 0.05);
    const exact = new Float32Array(M * N);
    ops.gemmBf16(x, M, K, W, N, exact, 'scalar');
    const y = gemmQ(x, M, K, W, N, bits, 128, 'scalar');
    let err = 0;
    let norm = 0;
    for (let i = 0; i < y.length; i++) {
      err += (y[i]! - exact[i]!) ** 2;
      norm += exact[i]! ** 2;
    }
    // Uniform weights: int8 keeps ~1% relative error, int4 ~10% (activation rounding included).
    expect(Math.sqrt(err / norm)).toBeLessThan(bits === 8 ? 0.02 : 0.15);
    expect(Math.sqrt(err / norm)).toBeGreaterThan(0);
  });

  it('is batch invariant: a row gives the same bits alone or inside any batch', () => {
    const [K, N, rows] = [300, 37, 40];
    const W = randomBf16(N * K, 5, 0.1);
    const q = native.quantizeWeights(W, N, K, bits, 128);
    const x = randomF32(rows * K, 6);
    for (const impl of ['scalar', ...optimizedImpls()] as const) {
      const run = (xs: Float32Array, m: number) => {
        const y = new Float32Array(m * N);
        ops.gemmQ(xs, m, K, q.data, q.scales, N, bits, 128, y, impl);
        return y;
      };
      const full = run(x, rows);
      for (const m of [0, 5, 17, 39]) {
        expect(bitsEqual(run(x.subarray(m * K, (m + 1) * K), 1), full.subarray(m * N, (m + 1) * N)), `${impl} row ${m}`).toBe(true);
      }
      expect(bitsEqual(run(x.subarray(3 * K, 12 * K), 9), full.subarray(3 * N, 12 * N)), impl).toBe(true);
    }
  });
});

describe('Hadamard-rotated rows (quant.h: Linear::rotated)', () => {
  // Activations with a few outliers per token, as the input of a trained model's down_proj: one
  // int8 scale per row then resolves the typical values coarsely; rotation spreads the outliers.
  function spiky(M: number, K: number, seed: number): Float32Array {
    const x = randomF32(M * K, seed);
    for (let m = 0; m < M; m++) for (let j = 0; j < 3; j++) x[m * K + ((m * 97 + j * 131) % K)]! *= 40;
    return x;
  }
  const relErr = (y: Float32Array, exact: Float32Array) => {
    let err = 0;
    let norm = 0;
    for (let i = 0; i < y.length; i++) {
      err += (y[i]! - exact[i]!) ** 2;
      norm += exact[i]! ** 2;
    }
    return Math.sqrt(err / norm);
  };

  it.each([8, 4] as const)('wint%i: the same product (W H)(H x) = W x, every ISA agreeing with the scalar reference, at odd shapes', (bits) => {
    for (const [M, K, N, group] of SHAPES) {
      const x = randomF32(M * K, M * 7 + K);
      const W = randomBf16(N * K, N * 5 + K, 0.1);
      const exact = new Float32Array(M * N);
      ops.gemmBf16(x, M, K, W, N, exact, 'scalar');
      const q = native.quantizeWeights(W, N, K, bits, group, true);
      const run = (impl: 'scalar' | 'avx2' | 'avx512') => {
        const y = new Float32Array(M * N);
        ops.gemmQ(x, M, K, q.data, q.scales, N, bits, group, y, impl, true);
        return y;
      };
      const ref = run('scalar');
      // Still the product: within the quantization error of the unrotated scheme.
      expect(relErr(ref, exact), `M=${M} K=${K} N=${N}`).toBeLessThan(bits === 8 ? 0.03 : 0.2);
      for (const impl of optimizedImpls()) expect(maxRelDiff(run(impl), ref, 0.1 * Math.sqrt(K)), `${impl} M=${M} K=${K}`).toBeLessThan(1e-5);
    }
  });

  it('cuts wint8\'s error on activations with outliers (per-token int8 scale), and is batch invariant', () => {
    const [M, K, N] = [16, 768, 64];
    const x = spiky(M, K, 11);
    const W = randomBf16(N * K, 12, 0.05);
    const exact = new Float32Array(M * N);
    ops.gemmBf16(x, M, K, W, N, exact, 'scalar');
    const errOf = (rotate: boolean) => {
      const q = native.quantizeWeights(W, N, K, 8, 0, rotate);
      const y = new Float32Array(M * N);
      ops.gemmQ(x, M, K, q.data, q.scales, N, 8, 0, y, undefined, rotate);
      return { y, err: relErr(y, exact), q };
    };
    const plain = errOf(false);
    const rotated = errOf(true);
    expect(rotated.err).toBeLessThan(plain.err / 2);
    // A row alone gives the same bits as inside the batch (the rotation is per row).
    const one = new Float32Array(N);
    ops.gemmQ(x.subarray(5 * K, 6 * K), 1, K, rotated.q.data, rotated.q.scales, N, 8, 0, one, undefined, true);
    expect(bitsEqual(one, rotated.y.subarray(5 * N, 6 * N))).toBe(true);
  });
});

describe('quantized weight format', () => {
  it('wint8: q + 128 per byte, one fp32 scale per group (max magnitude -> 127), zero padding', () => {
    const row = new Float32Array(130);
    row[0] = 2;
    row[1] = -1;
    row[128] = 0.5;
    const q = native.quantizeWeights(encodeBf16(row), 1, 130, 8, 128);
    expect(q.data.length).toBe(256);
    expect(Array.from(q.scales)).toEqual([2 / 127, 0.5 / 127].map(Math.fround));
    expect([q.data[0], q.data[1], q.data[2], q.data[128], q.data[255]]).toEqual([255, 128 - 64, 128, 255, 128]);
  });

  it('wint4: nibbles q + 8, element i low and i + 64 high in each 64-byte block, scale = extreme / -8', () => {
    const row = new Float32Array(128);
    row[0] = -8;
    row[64] = 4;
    row[1] = 7;
    const q = native.quantizeWeights(encodeBf16(row), 1, 128, 4, 128);
    expect(q.data.length).toBe(64);
    expect(q.scales[0]).toBe(1);
    expect(q.data[0]).toBe(0 | ((4 + 8) << 4));
    expect(q.data[1]).toBe((7 + 8) | (8 << 4));
  });

  it('wint4 groups of 32 / 64: a block\'s group j is its code bytes [j * G/2, (j + 1) * G/2), both nibbles (elements i and i + 64)', () => {
    const row = new Float32Array(200); // 2 blocks, the second half padding
    for (let i = 0; i < 200; i++) row[i] = 0.01 * ((i % 7) - 3);
    row[5] = -8; // bytes 0..15 of block 0: group 0 (G = 32) / 0 (G = 64)
    row[64 + 20] = 4; // element 84 = high nibble of byte 20: group 1 (G = 32) / 0 (G = 64)
    row[40] = 2; // byte 40: group 2 (G = 32) / 1 (G = 64)
    row[128 + 60] = 1; // block 1, byte 60: group 3 (G = 32) / 1 (G = 64)
    const q32 = native.quantizeWeights(encodeBf16(row), 1, 200, 4, 32);
    const q64 = native.quantizeWeights(encodeBf16(row), 1, 200, 4, 64);
    expect(q32.data.length).toBe(128); // padded to whole 128-element blocks
    expect(q32.scales.length).toBe(8);
    expect(q64.scales.length).toBe(4);
    expect(q32.scales[0]).toBe(1); // -8 / -8
    expect(q32.scales[1]).toBe(Math.fround(4 / -8));
    expect(q32.scales[2]).toBe(Math.fround(2 / -8));
    expect(q32.scales[7]).toBe(Math.fround(1 / -8));
    expect([q64.scales[0], q64.scales[1], q64.scales[3]]).toEqual([1, Math.fround(2 / -8), Math.fround(1 / -8)]);
    // element 84 is the extreme of its 32-group: -8 -> code 0 in the high nibble of byte 20.
    expect(q32.data[20]! >> 4).toBe(0);
    expect(q64.data[20]! >> 4).toBe(4 + 8);
  });

  it('refuses bad schemes with a clear error', () => {
    const W = new Uint16Array(128);
    expect(() => native.quantizeWeights(W, 1, 128, 2 as QuantBits, 128)).toThrow(/bits must be 8 or 4/);
    expect(() => native.quantizeWeights(W, 1, 128, 8, 192)).toThrow(/multiple of 128/);
    expect(() => native.quantizeWeights(W, 1, 128, 8, 64)).toThrow(/multiple of 128/);
    expect(() => native.quantizeWeights(W, 1, 128, 4, 16)).toThrow(/multiple of 128, or \(wint4\) 32 or 64/);
    expect(() => native.quantizeWeights(W, 1, 128, 8, 32)).toThrow(/multiple of 128/);
  });
});
