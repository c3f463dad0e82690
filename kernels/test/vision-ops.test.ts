import { describe, expect, it } from 'vitest';
import { native } from '../ts/index.js';
import { vlOps } from '../ts/vision.js';
import { attentionSingleQuery } from '../../services/engine/reference/index.js';
import { geluErf, layerNorm, patchifyImage, quickGelu, ropeVision2d } from '../../services/engine/reference/vision.js';
import { rope3d } from '../../services/engine/reference/vl-model.js';
import { bitsEqual, maxRelDiff, optimizedImpls, randomF32 } from './helpers.js';

describe('layernorm', () => {
  it.each([[1, 5], [3, 33], [7, 1000]])('scalar matches the oracle, every ISA matches scalar (rows=%i cols=%i)', (rows, cols) => {
    const x = randomF32(rows * cols, cols, 3).map((v, i) => v + (i % 3)); // non-zero mean
    const w = randomF32(cols, 1).map((v) => 1 + v / 4);
    const b = randomF32(cols, 2, 0.3);
    const ref = new Float32Array(rows * cols);
    vlOps.layernorm(x, rows, cols, w, b, 1e-6, ref, 'scalar');
    for (let r = 0; r < rows; r++) {
      const o = layerNorm(x.subarray(r * cols, (r + 1) * cols), w, b, 1e-6);
      expect(maxRelDiff(ref.subarray(r * cols, (r + 1) * cols), o, 1)).toBeLessThan(2e-5);
    }
    for (const impl of optimizedImpls()) {
      const out = new Float32Array(rows * cols);
      vlOps.layernorm(x, rows, cols, w, b, 1e-6, out, impl);
      expect(maxRelDiff(out, ref, 1), impl).toBeLessThan(2e-5);
      // In place gives the same bits.
      const inPlace = x.slice();
      vlOps.layernorm(inPlace, rows, cols, w, b, 1e-6, inPlace, impl);
      expect(bitsEqual(inPlace, out)).toBe(true);
    }
  });
});

describe('non-causal attention within segments', () => {
  it.each([[8, 1], [20, 2], [12, 3]])('matches the oracle and scalar, per-segment invariant (headDim %i, heads %i)', (hd, heads) => {
    const segs = Int32Array.from([0, 5, 38, 55]); // odd lengths, more than two key tiles
    const rows = segs.at(-1)!;
    const ld = 3 * heads * hd + 3; // q, k, v interleaved in one row with padding, like the ViT's qkv
    const buf = randomF32(rows * ld, hd * 7 + heads, 2);
    const q = buf;
    const k = buf.subarray(heads * hd);
    const v = buf.subarray(2 * heads * hd);
    const ref = new Float32Array(rows * heads * hd);
    vlOps.fullAttention(q, k, v, ld, heads, hd, segs, ref, 'scalar');
    for (let s = 0; s + 1 < segs.length; s++) {
      const n = segs[s + 1]! - segs[s]!;
      for (let i = segs[s]!; i < segs[s + 1]!; i++) {
        for (let h = 0; h < heads; h++) {
          const ks = new Float32Array(n * hd);
          const vs = new Float32Array(n * hd);
          for (let j = 0; j < n; j++) {
            const r = (segs[s]! + j) * ld + h * hd;
            ks.set(buf.subarray(heads * hd + r, heads * hd + r + hd), j * hd);
            vs.set(buf.subarray(2 * heads * hd + r, 2 * heads * hd + r + hd), j * hd);
          }
          const o = attentionSingleQuery(buf.subarray(i * ld + h * hd, i * ld + h * hd + hd), ks, vs);
          expect(maxRelDiff(ref.subarray((i * heads + h) * hd, (i * heads + h + 1) * hd), o, 1)).toBeLessThan(1e-5);
        }
      }
    }
    for (const impl of ['scalar', ...optimizedImpls()] as const) {
      const out = new Float32Array(rows * heads * hd);
      vlOps.fullAttention(q, k, v, ld, heads, hd, segs, out, impl);
      expect(maxRelDiff(out, ref, 1), impl).toBeLessThan(1e-5);
      // The middle segment alone gives the same bits as inside the call.
      const s0 = segs[1]!;
      const alone = new Float32Array((segs[2]! - s0) * heads * hd);
      vlOps.fullAttention(q.subarray(s0 * ld), k.subarray(s0 * ld), v.subarray(s0 * ld), ld, heads, hd, Int32Array.from([0, segs[2]! - s0]), alone, impl);
      expect(bitsEqual(alone, out.subarray(s0 * heads * hd, segs[2]! * heads * hd)), impl).toBe(true);
    }
  });
});

describe('rotary embeddings', () => {
  it('2-D vision RoPE (rotate-half, h then w) matches the oracle', () => {
    const heads = 2;
    const hd = 20;
    const ld = 3 * heads * hd;
    const ph = Int32Array.from([0, 0, 1, 7, 30]);
    const pw = Int32Array.from([0, 5, 1, 2, 41]);
    const x = randomF32(ph.length * ld, 5);
    const y = x.slice();
    vlOps.ropeVision2d(y, ph.length, ld, heads, hd, ph, pw, 10000);
    for (let r = 0; r < ph.length; r++) {
      const e = ropeVision2d(x.subarray(r * ld, r * ld + heads * hd), ph[r]!, pw[r]!, hd, 10000);
      expect(maxRelDiff(y.subarray(r * ld, r * ld + heads * hd), e, 1)).toBeLessThan(2e-6);
      expect(bitsEqual(y.subarray(r * ld + heads * hd, (r + 1) * ld), x.subarray(r * ld + heads * hd, (r + 1) * ld))).toBe(true);
    }
  });

  it('3-D RoPE matches the oracle and equals the 1-D rotation bit for bit when t = h = w', () => {
    const heads = 3;
    const hd = 16;
    const pos3 = Int32Array.from([0, 0, 0, 4, 4, 4, 9, 11, 13, 100, 103, 101]);
    const T = pos3.length / 3;
    const x = randomF32(T * heads * hd, 8);
    const y = x.slice();
    vlOps.rope3d(y, T, heads, hd, pos3, 2, 500000);
    for (let t = 0; t < T; t++) {
      const e = rope3d(x.subarray(t * heads * hd, (t + 1) * heads * hd), [pos3[3 * t]!, pos3[3 * t + 1]!, pos3[3 * t + 2]!], hd, 500000, 2);
      expect(maxRelDiff(y.subarray(t * heads * hd, (t + 1) * heads * hd), e, 1)).toBeLessThan(2e-6);
    }
    const flat = x.slice(0, 2 * heads * hd);
    native.ops.rope(flat, 2, heads, hd, Int32Array.from([0, 4]), 500000);
    expect(bitsEqual(flat, y.subarray(0, 2 * heads * hd))).toBe(true);
    // A token whose h and w differ turns differently from the 1-D rotation.
    const one = x.slice(2 * heads * hd, 3 * heads * hd);
    native.ops.rope(one, 1, heads, hd, Int32Array.from([9]), 500000);
    expect(bitsEqual(one, y.subarray(2 * heads * hd, 3 * heads * hd))).toBe(false);
  });
});

describe('activations', () => {
  it('quick-GELU and erf-GELU match the oracle', () => {
    const x = randomF32(257, 3, 8);
    const a = x.slice();
    vlOps.quickGelu(a);
    expect(maxRelDiff(a, Float32Array.from(x, quickGelu), 1)).toBeLessThan(2e-6);
    const b = x.slice();
    vlOps.geluErf(b);
    expect(maxRelDiff(b, Float32Array.from(x, geluErf), 1)).toBeLessThan(2e-6);
  });
});

describe('patchify', () => {
  it.each([[2, 2], [4, 2], [2, 6]])('emits merge windows row-major, patches row-major inside (grid %ix%i)', (gh, gw) => {
    const c = { patchSize: 14, spatialMergeSize: 2, inChannels: 3 } as const;
    const px = randomF32(3 * gh * 14 * gw * 14, gh * 10 + gw);
    const n = gh * gw;
    const out = new Float32Array(n * 588);
    const ph = new Int32Array(n);
    const pw = new Int32Array(n);
    vlOps.patchify(px, 3, gh * 14, gw * 14, 14, 2, out, ph, pw);
    const ref = patchifyImage(px, { ...c, depth: 0, hiddenSize: 0, intermediateSize: 0, numHeads: 1, headDim: 0, temporalMergeSize: 2, layerNormEps: 0, ropeTheta: 0 }, { t: 1, h: gh, w: gw });
    ref.rows.forEach((r, i) => expect(bitsEqual(out.subarray(i * 588, (i + 1) * 588), r)).toBe(true));
    expect(Array.from(ph)).toEqual(ref.posH);
    expect(Array.from(pw)).toEqual(ref.posW);
    // The first window is patches (0,0), (0,1), (1,0), (1,1).
    expect([ph[1], pw[1], ph[2], pw[2]]).toEqual([0, 1, 1, 0]);
  });
});
