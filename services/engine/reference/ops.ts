/**
 * The individual reference ops, written as plain loops. Sums are accumulated in JS numbers
 * (float64) and every stored result is rounded to float32 by writing it into a Float32Array.
 */

import { bf16Of, type Bf16Matrix, type LinearWeight, type MoeConfig, type MoeMlpWeights } from '../model-types.js';
import { bf16BitsToF32 } from './bf16.js';

const f32 = Math.fround;

/** Weights of one SwiGLU MLP (a dense MLP, one expert, or the fused shared experts). */
export interface SwiGluWeights {
  gateProj: LinearWeight;
  upProj: LinearWeight;
  downProj: LinearWeight;
}

function assertLength(name: string, actual: number, expected: number): void {
  if (actual !== expected) throw new Error(`${name}: expected length ${expected}, got ${actual}`);
}

/** Row `row` of a bf16 matrix widened to float32. */
export function bf16Row(m: Bf16Matrix, row: number): Float32Array {
  if (!Number.isInteger(row) || row < 0 || row >= m.rows) {
    throw new Error(`bf16Row: row ${row} out of range [0, ${m.rows})`);
  }
  const out = new Float32Array(m.cols);
  const base = row * m.cols;
  for (let c = 0; c < m.cols; c++) out[c] = bf16BitsToF32(m.data[base + c]!);
  return out;
}

/** Embedding lookup: the bf16 row of `token`, widened exactly to float32. */
export function embedToken(embedTokens: Bf16Matrix, token: number): Float32Array {
  return bf16Row(embedTokens, token);
}

/** RMSNorm: `x * 1/sqrt(mean(x^2) + eps) * weight`. */
export function rmsnorm(x: Float32Array, weight: Float32Array, eps: number): Float32Array {
  assertLength('rmsnorm weight', weight.length, x.length);
  let sumSq = 0;
  for (let i = 0; i < x.length; i++) sumSq += x[i]! * x[i]!;
  const inv = 1 / Math.sqrt(sumSq / x.length + eps);
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i]! * inv * weight[i]!;
  return out;
}

/** `y[o] = sum_i x[i] * W[o, i]` with W a bf16 [out, in] matrix; no bias. */
export function linearBf16(x: Float32Array, lw: LinearWeight): Float32Array {
  // The oracle is bf16 only: quantized weights are checked against their own scalar kernels.
  const w = bf16Of(lw, 'the reference model');
  assertLength('linearBf16 input', x.length, w.cols);
  assertLength('linearBf16 matrix data', w.data.length, w.rows * w.cols);
  const out = new Float32Array(w.rows);
  for (let o = 0; o < w.rows; o++) {
    const base = o * w.cols;
    let acc = 0;
    for (let i = 0; i < w.cols; i++) acc += x[i]! * bf16BitsToF32(w.data[base + i]!);
    out[o] = acc;
  }
  return out;
}

/** `y[o] = sum_i x[i] * W[o * cols + i]` with W a float32 [rows, cols] matrix (the MoE gate). */
export function linearF32(x: Float32Array, w: Float32Array, rows: number): Float32Array {
  const cols = x.length;
  assertLength('linearF32 matrix', w.length, rows * cols);
  const out = new Float32Array(rows);
  for (let o = 0; o < rows; o++) {
    let acc = 0;
    for (let i = 0; i < cols; i++) acc += x[i]! * w[o * cols + i]!;
    out[o] = acc;
  }
  return out;
}

/** Element-wise `a + b` (the residual connection). */
export function addVectors(a: Float32Array, b: Float32Array): Float32Array {
  assertLength('addVectors', b.length, a.length);
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! + b[i]!;
  return out;
}

/** RoPE inverse frequency of pair i: `1 / theta^(2i/headDim)`, each step in float32. */
export function ropeInvFreq(i: number, headDim: number, theta: number): number {
  const exponent = f32(f32(2 * i) / headDim);
  return f32(1 / f32(Math.pow(theta, exponent)));
}

/**
 * Interleaved RoPE at position `pos`, applied to every head of `x` (length a multiple of headDim).
 * Pair i of a head is (2i, 2i+1): `x'[2i] = x[2i]c - x[2i+1]s`, `x'[2i+1] = x[2i+1]c + x[2i]s`.
 */
export function ropeInterleaved(x: Float32Array, pos: number, headDim: number, theta: number): Float32Array {
  if (headDim <= 0 || headDim % 2 !== 0) throw new Error(`ropeInterleaved: head_dim ${headDim} must be even`);
  if (x.length % headDim !== 0) throw new Error(`ropeInterleaved: length ${x.length} is not a multiple of ${headDim}`);
  const half = headDim / 2;
  const cos = new Float32Array(half);
  const sin = new Float32Array(half);
  const p = f32(pos);
  for (let i = 0; i < half; i++) {
    const angle = f32(p * ropeInvFreq(i, headDim, theta));
    cos[i] = Math.cos(angle);
    sin[i] = Math.sin(angle);
  }
  const out = new Float32Array(x.length);
  for (let base = 0; base < x.length; base += headDim) {
    for (let i = 0; i < half; i++) {
      const a = x[base + 2 * i]!;
      const b = x[base + 2 * i + 1]!;
      const c = cos[i]!;
      const s = sin[i]!;
      out[base + 2 * i] = a * c - b * s;
      out[base + 2 * i + 1] = b * c + a * s;
    }
  }
  return out;
}

/** `silu(z) = z / (1 + exp(-z))`. */
export function silu(z: number): number {
  return z / (1 + Math.exp(-z));
}

/** `silu(gate) * up`, element-wise. */
export function siluMul(gate: Float32Array, up: Float32Array): Float32Array {
  assertLength('siluMul', up.length, gate.length);
  const out = new Float32Array(gate.length);
  for (let i = 0; i < gate.length; i++) out[i] = silu(gate[i]!) * up[i]!;
  return out;
}

/** Softmax of a vector (max-subtracted), float32 results. */
export function softmax(x: Float32Array): Float32Array {
  if (x.length === 0) return new Float32Array(0);
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) if (x[i]! > max) max = x[i]!;
  const e = new Float64Array(x.length);
  let sum = 0;
  for (let i = 0; i < x.length; i++) {
    e[i] = Math.exp(x[i]! - max);
    sum += e[i]!;
  }
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = e[i]! / sum;
  return out;
}

/**
 * Attention of one query head over `n` key/value rows of one KV head (all of them are visible:
 * the caller passes exactly the causal prefix). `keys` and `values` are flat [n * headDim].
 * Scores are `q.k * scale` (default 1/sqrt(headDim)), softmax in fp32, then the weighted sum of V.
 */
export function attentionSingleQuery(
  q: Float32Array,
  keys: Float32Array,
  values: Float32Array,
  scale: number = 1 / Math.sqrt(q.length),
): Float32Array {
  const headDim = q.length;
  if (headDim === 0) throw new Error('attentionSingleQuery: empty query');
  if (keys.length % headDim !== 0 || keys.length === 0) {
    throw new Error(`attentionSingleQuery: keys length ${keys.length} is not a positive multiple of ${headDim}`);
  }
  assertLength('attentionSingleQuery values', values.length, keys.length);
  const n = keys.length / headDim;
  const scores = new Float32Array(n);
  for (let j = 0; j < n; j++) {
    let dot = 0;
    for (let d = 0; d < headDim; d++) dot += q[d]! * keys[j * headDim + d]!;
    scores[j] = dot * scale;
  }
  const probs = softmax(scores);
  const out = new Float32Array(headDim);
  for (let d = 0; d < headDim; d++) {
    let acc = 0;
    for (let j = 0; j < n; j++) acc += probs[j]! * values[j * headDim + d]!;
    out[d] = acc;
  }
  return out;
}

/** SwiGLU MLP: `down(silu(gate(x)) * up(x))`. */
export function swiGluMlp(x: Float32Array, w: SwiGluWeights): Float32Array {
  return linearBf16(siluMul(linearBf16(x, w.gateProj), linearBf16(x, w.upProj)), w.downProj);
}

/** The routing decision for one token: experts in selection order and their mixing weights. */
export interface MoeRoute {
  experts: number[];
  weights: number[];
}

/**
 * MoE routing of one hidden vector: fp32 logits `gate . x`, softmax, top-k by `probs + bias`
 * (ties go to the lower expert index), mixing weights = chosen uncorrected probs divided by
 * `max(sum of them, normMin)`. Experts are returned in descending corrected-score order.
 */
export function referenceMoeRoute(
  gate: Float32Array,
  bias: Float32Array,
  x: Float32Array,
  numExperts: number,
  topK: number,
  normMin: number,
): MoeRoute {
  if (!Number.isInteger(topK) || topK < 1 || topK > numExperts) {
    throw new Error(`referenceMoeRoute: top_k ${topK} must be in [1, ${numExperts}]`);
  }
  assertLength('referenceMoeRoute bias', bias.length, numExperts);
  const probs = softmax(linearF32(x, gate, numExperts));
  const scores = new Float32Array(numExperts);
  for (let e = 0; e < numExperts; e++) scores[e] = probs[e]! + bias[e]!;
  const order = Array.from({ length: numExperts }, (_, e) => e);
  order.sort((a, b) => scores[b]! - scores[a]! || a - b);
  const experts = order.slice(0, topK);
  let sum = 0;
  for (const e of experts) sum += probs[e]!;
  const denom = Math.max(sum, normMin);
  const weights = experts.map((e) => f32(probs[e]! / denom));
  return { experts, weights };
}

/** The MoE block of one token: `sum_k weight_k * expert_k(x) + shared(x)`. */
export function moeMlp(x: Float32Array, w: MoeMlpWeights, moe: MoeConfig): Float32Array {
  if (w.experts.length !== moe.numExperts) {
    throw new Error(`moeMlp: ${w.experts.length} experts present, config says ${moe.numExperts}`);
  }
  const route = referenceMoeRoute(w.gate, w.correctionBias, x, moe.numExperts, moe.topK, moe.normMin);
  const acc = new Float64Array(x.length);
  for (let k = 0; k < route.experts.length; k++) {
    const y = swiGluMlp(x, w.experts[route.experts[k]!]!);
    const weight = route.weights[k]!;
    for (let i = 0; i < acc.length; i++) acc[i] = acc[i]! + weight * y[i]!;
  }
  if (w.shared) {
    const y = swiGluMlp(x, w.shared);
    for (let i = 0; i < acc.length; i++) acc[i] = acc[i]! + y[i]!;
  }
  return Float32Array.from(acc);
}

/** Index of the largest value; ties go to the lowest index. */
export function argmax(x: ArrayLike<number>, offset = 0, length: number = x.length - offset): number {
  let best = -1;
  let bestValue = -Infinity;
  for (let i = 0; i < length; i++) {
    const v = x[offset + i]!;
    if (best < 0 || v > bestValue) {
      best = i;
      bestValue = v;
    }
  }
  return best;
}
