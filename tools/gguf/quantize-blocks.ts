/**
 * ggml's Q8_0 and Q4_0 block quantizers, bit-exact with quantize_row_q8_0_ref /
 * quantize_row_q4_0_ref (what llama-quantize writes): every intermediate is rounded to fp32 as
 * the C code does, the scale is stored as fp16 (round to nearest even).
 *
 *   Q8_0 block (34 bytes): d = amax / 127; q[j] = roundf(x[j] / d) as int8.
 *   Q4_0 block (18 bytes): d = m / -8 with m the element of largest magnitude;
 *                          q[j] = min(15, (int)(x[j] / d + 8.5)); byte j holds element j in its
 *                          low nibble and element j + 16 in its high nibble.
 */
import { f16ToF32, f32ToF16 } from '../../services/engine/weights/dtype.js';
import { GgmlType, ggmlRowBytes } from './gguf-constants.js';

const QK = 32;
const f = Math.fround;
/** C roundf: halves away from zero. */
const roundf = (v: number) => (v < 0 ? -Math.floor(-v + 0.5) : Math.floor(v + 0.5));

/** Quantizes `x` (length a multiple of 32) to Q8_0 blocks. */
export function quantizeQ8_0(x: Float32Array, out = new Uint8Array(ggmlRowBytes(GgmlType.Q8_0, x.length))): Uint8Array {
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let b = 0, o = 0; b < x.length; b += QK, o += 34) {
    let amax = 0;
    for (let j = 0; j < QK; j++) amax = Math.max(amax, Math.abs(x[b + j]!));
    const d = f(amax / 127);
    const id = d ? f(1 / d) : 0;
    dv.setUint16(o, f32ToF16(d), true);
    for (let j = 0; j < QK; j++) dv.setInt8(o + 2 + j, roundf(f(x[b + j]! * id)));
  }
  return out;
}

/** Quantizes `x` (length a multiple of 32) to Q4_0 blocks. */
export function quantizeQ4_0(x: Float32Array, out = new Uint8Array(ggmlRowBytes(GgmlType.Q4_0, x.length))): Uint8Array {
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let b = 0, o = 0; b < x.length; b += QK, o += 18) {
    let amax = 0;
    let max = 0;
    for (let j = 0; j < QK; j++) {
      const v = x[b + j]!;
      if (amax < Math.abs(v)) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = f(max / -8);
    const id = d ? f(1 / d) : 0;
    dv.setUint16(o, f32ToF16(d), true);
    for (let j = 0; j < QK / 2; j++) {
      const lo = Math.min(15, Math.trunc(f(f(x[b + j]! * id) + 8.5)));
      const hi = Math.min(15, Math.trunc(f(f(x[b + QK / 2 + j]! * id) + 8.5)));
      out[o + 2 + j] = lo | (hi << 4);
    }
  }
  return out;
}

/** Q8_0 blocks → fp32 values (d * q). */
export function dequantizeQ8_0(blocks: Uint8Array, n: number): Float32Array {
  const dv = new DataView(blocks.buffer, blocks.byteOffset, blocks.byteLength);
  const y = new Float32Array(n);
  for (let b = 0, o = 0; b < n; b += QK, o += 34) {
    const d = f16ToF32(dv.getUint16(o, true));
    for (let j = 0; j < QK; j++) y[b + j] = d * dv.getInt8(o + 2 + j);
  }
  return y;
}

/** Q4_0 blocks → fp32 values (d * (q - 8)). */
export function dequantizeQ4_0(blocks: Uint8Array, n: number): Float32Array {
  const dv = new DataView(blocks.buffer, blocks.byteOffset, blocks.byteLength);
  const y = new Float32Array(n);
  for (let b = 0, o = 0; b < n; b += QK, o += 18) {
    const d = f16ToF32(dv.getUint16(o, true));
    for (let j = 0; j < QK / 2; j++) {
      const q = blocks[o + 2 + j]!;
      y[b + j] = d * ((q & 15) - 8);
      y[b + QK / 2 + j] = d * ((q >> 4) - 8);
    }
  }
  return y;
}
