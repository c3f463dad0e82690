import { describe, expect, it } from 'vitest';
import { f16ToF32 } from '../../services/engine/weights/dtype.js';
import { dequantizeQ4_0, dequantizeQ8_0, quantizeQ4_0, quantizeQ8_0 } from './quantize-blocks.js';

/**
 * An independent scalar transcription of ggml's quantize_row_q8_0_ref / quantize_row_q4_0_ref,
 * computing in fp32 through Float32Array stores instead of Math.fround, and fp16 through
 * DataView-free bit arithmetic of a different shape (via f16 candidates around the value).
 */
const F = new Float32Array(1);
const f32 = (v: number) => ((F[0] = v), F[0]!);
function halfBitsRne(x: number): number {
  // Nearest representable half by search over the two neighbours of the truncated value (ties to even).
  if (x === 0) return Object.is(x, -0) ? 0x8000 : 0;
  const sign = x < 0 ? 0x8000 : 0;
  const a = Math.abs(x);
  let lo = 0;
  for (let step = 0x4000; step; step >>= 1) if (lo + step < 0x7c00 && f16ToF32(lo + step) <= a) lo += step;
  const hi = lo + 1;
  const dl = a - f16ToF32(lo);
  const dh = f16ToF32(hi) - a;
  return sign | (dl < dh || (dl === dh && lo % 2 === 0) ? lo : hi);
}
function refQ8_0(x: Float32Array): Uint8Array {
  const out = new Uint8Array((x.length / 32) * 34);
  for (let b = 0; b < x.length / 32; b++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) if (Math.abs(x[b * 32 + j]!) > amax) amax = Math.abs(x[b * 32 + j]!);
    const d = f32(amax / 127);
    const id = d !== 0 ? f32(1 / d) : 0;
    const h = halfBitsRne(d);
    out[b * 34] = h & 255;
    out[b * 34 + 1] = h >> 8;
    for (let j = 0; j < 32; j++) {
      const v = f32(x[b * 32 + j]! * id);
      const r = Math.sign(v) * Math.floor(Math.abs(v) + 0.5);
      out[b * 34 + 2 + j] = r & 255;
    }
  }
  return out;
}
function refQ4_0(x: Float32Array): Uint8Array {
  const out = new Uint8Array((x.length / 32) * 18);
  for (let b = 0; b < x.length / 32; b++) {
    let amax = 0;
    let max = 0;
    for (let j = 0; j < 32; j++) {
      const v = x[b * 32 + j]!;
      if (amax < Math.abs(v)) [amax, max] = [Math.abs(v), v];
    }
    const d = f32(max / -8);
    const id = d !== 0 ? f32(1 / d) : 0;
    const h = halfBitsRne(d);
    out[b * 18] = h & 255;
    out[b * 18 + 1] = h >> 8;
    for (let j = 0; j < 16; j++) {
      const q0 = Math.min(15, Math.trunc(f32(f32(x[b * 32 + j]! * id) + 8.5)));
      const q1 = Math.min(15, Math.trunc(f32(f32(x[b * 32 + 16 + j]! * id) + 8.5)));
      out[b * 18 + 2 + j] = q0 | (q1 << 4);
    }
  }
  return out;
}

function randomBlocks(seed: number, blocks: number, minExp = -9, maxExp = 4): Float32Array {
  let s = seed >>> 0;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const x = new Float32Array(blocks * 32);
  for (let b = 0; b < blocks; b++) {
    // Block scales from 1e-9 (fp16-subnormal d) to 1e4 by default, one all-zero block, one constant block.
    const scale = 10 ** (minExp + rnd() * (maxExp - minExp));
    for (let j = 0; j < 32; j++) x[b * 32 + j] = b === 3 ? 0 : b === 5 ? -0.75 : (rnd() * 2 - 1) * scale;
  }
  return x;
}

describe('Q8_0 blocks', () => {
  it('encodes a block with scale 1 to the expected bytes (fp16 d, then int8 codes, halves away from zero)', () => {
    const x = new Float32Array(32).map((_, j) => j);
    x[0] = 127;
    x[1] = 2.5;
    x[2] = -2.5;
    x[31] = -127;
    const q = quantizeQ8_0(x);
    expect(q.length).toBe(34);
    expect([...q.subarray(0, 2)]).toEqual([0x00, 0x3c]); // fp16(1.0)
    const codes = Array.from(new Int8Array(q.buffer, 2, 32));
    expect(codes).toEqual([127, 3, -3, ...Array.from({ length: 28 }, (_, j) => j + 3), -127]);
  });

  it('matches the scalar reference bit for bit on random blocks of every magnitude', () => {
    const x = randomBlocks(1, 200);
    expect(Buffer.from(quantizeQ8_0(x)).equals(Buffer.from(refQ8_0(x)))).toBe(true);
  });

  it('round-trips within half a step per element (scales where fp16 d is exact enough)', () => {
    const x = randomBlocks(2, 50, -2, 3);
    const y = dequantizeQ8_0(quantizeQ8_0(x), x.length);
    for (let b = 0; b < 50; b++) {
      let amax = 0;
      for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b * 32 + j]!));
      for (let j = 0; j < 32; j++) expect(Math.abs(y[b * 32 + j]! - x[b * 32 + j]!)).toBeLessThanOrEqual((amax / 127) * (0.5 + 127 * 2 ** -11)) // half a step + the fp16 rounding of d over 127 steps;
    }
  });
});

describe('Q4_0 blocks', () => {
  it('encodes a block with d = 1 to the expected nibbles (element j low, j + 16 high)', () => {
    const x = new Float32Array(32);
    x[0] = -8; // largest magnitude, negative: d = -8 / -8 = 1
    x[1] = 7; // 15
    x[2] = 7.6; // clamps to 15
    x[3] = 0.5; // trunc(9.0) = 9
    x[4] = -0.5; // trunc(8.0) = 8
    x[16] = 3; // high nibble of byte 0: 11
    x[17] = -3; // 5
    const q = quantizeQ4_0(x);
    expect(q.length).toBe(18);
    expect([...q.subarray(0, 2)]).toEqual([0x00, 0x3c]);
    expect(q[2]).toBe(0 | (11 << 4));
    expect(q[3]).toBe(15 | (5 << 4));
    expect(q[4]).toBe(15 | (8 << 4));
    expect(q[5]).toBe(9 | (8 << 4));
    expect(q[6]).toBe(8 | (8 << 4));
  });

  it('takes the sign of the largest-magnitude element for d', () => {
    const x = new Float32Array(32).fill(1);
    x[7] = 16; // d = 16 / -8 = -2: the maximum maps to code 0
    const q = quantizeQ4_0(x);
    expect(f16ToF32(q[0]! | (q[1]! << 8))).toBe(-2);
    expect(dequantizeQ4_0(q, 32)[7]).toBe(16);
  });

  it('matches the scalar reference bit for bit on random blocks of every magnitude', () => {
    const x = randomBlocks(3, 200);
    expect(Buffer.from(quantizeQ4_0(x)).equals(Buffer.from(refQ4_0(x)))).toBe(true);
  });

  it('round-trips within one step per element (scales where fp16 d is exact enough)', () => {
    const x = randomBlocks(4, 50, -2, 3);
    const y = dequantizeQ4_0(quantizeQ4_0(x), x.length);
    for (let b = 0; b < 50; b++) {
      let amax = 0;
      for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b * 32 + j]!));
      for (let j = 0; j < 32; j++) expect(Math.abs(y[b * 32 + j]! - x[b * 32 + j]!)).toBeLessThanOrEqual((amax / 8) * (1 + 8 * 2 ** -11));
    }
  });
});
