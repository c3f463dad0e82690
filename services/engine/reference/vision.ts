/**
 * The oracle of the vision side of ERNIE-4.5-VL: ViT and resampler as plain loops over one image.
 * Sums run in float64, every stored value is float32. Slow and obvious on purpose.
 */
import type { Bf16Matrix } from '../model-types.js';
import type { ImageGrid, ResamplerStageWeights, VisionConfig, VisionWeights } from '../vl-model-types.js';
import { attentionSingleQuery, linearBf16, rmsnorm } from './ops.js';

const f32 = Math.fround;

/** `W x + b`. */
export function linearBias(x: Float32Array, w: Bf16Matrix, bias: Float32Array | undefined): Float32Array {
  const y = linearBf16(x, w);
  if (bias) for (let i = 0; i < y.length; i++) y[i] = y[i]! + bias[i]!;
  return y;
}

/** LayerNorm with weight and bias: `(x - mean) / sqrt(var + eps) * w + b` (population variance). */
export function layerNorm(x: Float32Array, w: Float32Array, b: Float32Array, eps: number): Float32Array {
  let sum = 0;
  for (const v of x) sum += v;
  const mean = sum / x.length;
  let sq = 0;
  for (const v of x) sq += (v - mean) * (v - mean);
  const inv = 1 / Math.sqrt(sq / x.length + eps);
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = (x[i]! - mean) * inv * w[i]! + b[i]!;
  return out;
}

export const quickGelu = (z: number): number => z / (1 + Math.exp(-1.702 * z));

/** Exact GELU (nn.GELU's default): 0.5 z (1 + erf(z / √2)). */
export function geluErf(z: number): number {
  return 0.5 * z * (1 + erf(z / Math.SQRT2));
}

/** erf to about 1e-15: Taylor series near 0, continued fraction for the tail. */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 3) {
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 200 && Math.abs(term) > 1e-17 * sum; n++) {
      term *= (-ax * ax) / n;
      sum += term / (2 * n + 1);
    }
    return Math.sign(x) * ((2 / Math.sqrt(Math.PI)) * sum);
  }
  // erfc(x) = exp(-x²)/√π · 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...))))
  let f = ax;
  for (let k = 60; k >= 1; k--) f = ax + k / 2 / f;
  return Math.sign(x) * (1 - Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f);
}

/** The patches of one image [C, H, W] in processor order (m×m windows row-major, patches row-major inside). */
export function patchifyImage(pixels: Float32Array, c: VisionConfig, grid: ImageGrid): { rows: Float32Array[]; posH: number[]; posW: number[] } {
  const p = c.patchSize;
  const m = c.spatialMergeSize;
  const H = grid.h * p;
  const W = grid.w * p;
  if (pixels.length !== c.inChannels * H * W) throw new Error(`patchifyImage: expected ${c.inChannels * H * W} pixels, got ${pixels.length}`);
  const rows: Float32Array[] = [];
  const posH: number[] = [];
  const posW: number[] = [];
  for (let wr = 0; wr < grid.h / m; wr++) {
    for (let wc = 0; wc < grid.w / m; wc++) {
      for (let r = 0; r < m; r++) {
        for (let q = 0; q < m; q++) {
          const gy = wr * m + r;
          const gx = wc * m + q;
          const row = new Float32Array(c.inChannels * p * p);
          let i = 0;
          for (let ch = 0; ch < c.inChannels; ch++)
            for (let y = 0; y < p; y++) for (let x = 0; x < p; x++) row[i++] = pixels[(ch * H + gy * p + y) * W + gx * p + x]!;
          rows.push(row);
          posH.push(gy);
          posW.push(gx);
        }
      }
    }
  }
  return { rows, posH, posW };
}

/** Rotate-half 2-D RoPE on every head of `x`: first quarter of each head turned by h, second by w. */
export function ropeVision2d(x: Float32Array, h: number, w: number, headDim: number, theta: number): Float32Array {
  const half = headDim / 2;
  const quarter = headDim / 4;
  const out = new Float32Array(x.length);
  for (let base = 0; base < x.length; base += headDim) {
    for (let i = 0; i < half; i++) {
      const j = i % quarter;
      const invFreq = f32(1 / f32(Math.pow(theta, f32(f32(2 * j) / half))));
      const angle = f32(f32(i < quarter ? h : w) * invFreq);
      const cos = f32(Math.cos(angle));
      const sin = f32(Math.sin(angle));
      const a = x[base + i]!;
      const b = x[base + i + half]!;
      out[base + i] = a * cos - b * sin;
      out[base + i + half] = b * cos + a * sin;
    }
  }
  return out;
}

/** The ViT over one image: the final hidden states of its patches, in patch order. */
export function referenceVit(w: VisionWeights, c: VisionConfig, pixels: Float32Array, grid: ImageGrid): Float32Array[] {
  if (grid.t !== 1) throw new Error('referenceVit: only still images (t = 1) are supported');
  const { rows, posH, posW } = patchifyImage(pixels, c, grid);
  const H = c.hiddenSize;
  const hd = c.headDim;
  let xs = rows.map((r) => linearBf16(r, w.patchEmbed));
  for (const b of w.blocks) {
    const qs: Float32Array[] = [];
    const ks: Float32Array[] = [];
    const vs: Float32Array[] = [];
    xs.forEach((x, n) => {
      const qkv = linearBias(layerNorm(x, b.norm1Weight, b.norm1Bias, c.layerNormEps), b.qkv, b.qkvBias);
      qs.push(ropeVision2d(qkv.slice(0, H), posH[n]!, posW[n]!, hd, c.ropeTheta));
      ks.push(ropeVision2d(qkv.slice(H, 2 * H), posH[n]!, posW[n]!, hd, c.ropeTheta));
      vs.push(qkv.slice(2 * H));
    });
    xs = xs.map((x, n) => {
      const attn = new Float32Array(H);
      for (let h = 0; h < c.numHeads; h++) {
        const keys = new Float32Array(xs.length * hd);
        const values = new Float32Array(xs.length * hd);
        for (let j = 0; j < xs.length; j++) {
          keys.set(ks[j]!.subarray(h * hd, (h + 1) * hd), j * hd);
          values.set(vs[j]!.subarray(h * hd, (h + 1) * hd), j * hd);
        }
        attn.set(attentionSingleQuery(qs[n]!.subarray(h * hd, (h + 1) * hd), keys, values), h * hd);
      }
      const h1 = add(x, linearBias(attn, b.proj, b.projBias));
      const mid = linearBias(layerNorm(h1, b.norm2Weight, b.norm2Bias, c.layerNormEps), b.fc1, b.fc1Bias).map(quickGelu);
      return add(h1, linearBias(mid, b.fc2, b.fc2Bias));
    });
  }
  return xs.map((x) => layerNorm(x, w.lnWeight, w.lnBias, c.layerNormEps));
}

function add(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! + b[i]!;
  return out;
}

function stage(s: ResamplerStageWeights, x: Float32Array, eps: number): Float32Array {
  const mid = linearBias(x, s.fc1, s.fc1Bias).map(geluErf);
  return layerNorm(linearBias(mid, s.fc2, s.fc2Bias), s.lnWeight, s.lnBias, eps);
}

/**
 * The resampler: each m×m window of ViT outputs (m² consecutive patch rows) becomes one token,
 * spatial stage, then the temporal stage on the frame pair (a still image stands for both frames),
 * then the projection to the text width and RMSNorm.
 */
export function referenceResampler(w: VisionWeights, c: VisionConfig, textEps: number, vit: Float32Array[]): Float32Array[] {
  const m2 = c.spatialMergeSize * c.spatialMergeSize;
  const H = c.hiddenSize;
  const out: Float32Array[] = [];
  for (let t = 0; t < vit.length / m2; t++) {
    const merged = new Float32Array(m2 * H);
    for (let k = 0; k < m2; k++) merged.set(vit[t * m2 + k]!, k * H);
    const s = stage(w.resampler.spatial, merged, c.layerNormEps);
    const pair = new Float32Array(2 * s.length);
    pair.set(s, 0);
    pair.set(s, s.length);
    const tm = stage(w.resampler.temporal, pair, c.layerNormEps);
    out.push(rmsnorm(linearBias(tm, w.resampler.mlp, w.resampler.mlpBias), w.resampler.afterNorm, textEps));
  }
  return out;
}

/** ViT + resampler: the image's tokens for the text model, [h*w/m²][textHidden]. */
export function referenceEncodeImage(w: VisionWeights, c: VisionConfig, textEps: number, pixels: Float32Array, grid: ImageGrid): Float32Array[] {
  return referenceResampler(w, c, textEps, referenceVit(w, c, pixels, grid));
}
