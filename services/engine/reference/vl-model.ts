/**
 * The oracle of the ERNIE-4.5-VL decoder over one sequence: the text oracle's layer structure
 * with (1) input embeddings replaced by image tokens at the image positions, (2) interleaved
 * 3-D RoPE on (t, h, w) positions, (3) MoE routed by modality: text tokens through the text router
 * and experts, vision tokens through the vision ones, shared experts on every token.
 */
import type { MoeMlpWeights } from '../model-types.js';
import type { ImageGrid, VlModelWeights } from '../vl-model-types.js';
import { roundArrayToBf16 } from './bf16.js';
import { addVectors, attentionSingleQuery, embedToken, linearBf16, moeMlp, rmsnorm, ropeInvFreq, swiGluMlp } from './ops.js';

const f32 = Math.fround;

/** Interleaved RoPE with pair i turned by t (last tPairs pairs), else h (even i) or w (odd i). */
export function rope3d(x: Float32Array, pos: readonly [number, number, number], headDim: number, theta: number, tPairs: number): Float32Array {
  const half = headDim / 2;
  const out = new Float32Array(x.length);
  for (let i = 0; i < half; i++) {
    const p = i >= half - tPairs ? pos[0] : i % 2 === 0 ? pos[1] : pos[2];
    const angle = f32(f32(p) * ropeInvFreq(i, headDim, theta));
    const c = f32(Math.cos(angle));
    const s = f32(Math.sin(angle));
    for (let base = 0; base < x.length; base += headDim) {
      const a = x[base + 2 * i]!;
      const b = x[base + 2 * i + 1]!;
      out[base + 2 * i] = a * c - b * s;
      out[base + 2 * i + 1] = b * c + a * s;
    }
  }
  return out;
}

/** One token of a VL prompt: an id, its modality and RoPE position, and for image tokens the embedding. */
export interface VlToken {
  id: number;
  /** 0 text experts, 1 vision experts. */
  modality: 0 | 1;
  pos: [number, number, number];
  embed?: Float32Array;
}

/**
 * The modality and 3-D positions of a prompt, as the reference get_rope_index computes them:
 * text tokens count up by one on all three axes; the k-th run of image placeholders takes
 * (t, h, w) = (p, p + row, p + col) over the merged grid of image k, then the count resumes at
 * p + max(rows, cols). Placeholders and the image start / end tokens route to the vision experts.
 */
export function vlPromptLayout(
  ids: readonly number[],
  grids: readonly ImageGrid[],
  tok: { imageTokenId: number; imageStartTokenId: number; imageEndTokenId: number },
  merge = 2,
): { modality: Array<0 | 1>; pos: Array<[number, number, number]>; nextPos: number } {
  const modality: Array<0 | 1> = [];
  const pos: Array<[number, number, number]> = [];
  let p = 0;
  let img = 0;
  for (let i = 0; i < ids.length; ) {
    if (ids[i] !== tok.imageTokenId) {
      modality.push(ids[i] === tok.imageStartTokenId || ids[i] === tok.imageEndTokenId ? 1 : 0);
      pos.push([p, p, p]);
      p++;
      i++;
      continue;
    }
    const g = grids[img++];
    if (!g) throw new Error('vlPromptLayout: more image placeholder runs than images');
    const rows = g.h / merge;
    const cols = g.w / merge;
    for (let r = 0; r < rows; r++)
      for (let c = 0; c < cols; c++, i++) {
        if (ids[i] !== tok.imageTokenId) throw new Error(`vlPromptLayout: image ${img - 1} needs ${rows * cols} placeholders`);
        modality.push(1);
        pos.push([p, p + r, p + c]);
      }
    p += Math.max(rows, cols);
  }
  if (img !== grids.length) throw new Error('vlPromptLayout: fewer image placeholder runs than images');
  return { modality, pos, nextPos: p };
}

/** Logits [n, vocab] of every token of a whole prompt (one prefill; bf16 KV rounding as the native cache). */
export function referenceVlForward(w: VlModelWeights, tokens: readonly VlToken[], kvDtype: 'bf16' | 'fp32' = 'bf16'): Float32Array {
  const t = w.text;
  const c = t.config;
  const hd = c.headDim;
  const group = c.numHeads / c.numKvHeads;
  let xs = tokens.map((tk) => tk.embed ?? embedToken(t.embedTokens, tk.id));
  t.layers.forEach((layer, li) => {
    const keys: Float32Array[] = [];
    const values: Float32Array[] = [];
    const qs = xs.map((x, j) => {
      const n = rmsnorm(x, layer.inputLayernorm, c.rmsNormEps);
      const k = rope3d(linearBf16(n, layer.kProj), tokens[j]!.pos, hd, c.ropeTheta, w.config.ropeTPairs);
      const v = linearBf16(n, layer.vProj);
      keys.push(kvDtype === 'bf16' ? roundArrayToBf16(k) : k);
      values.push(kvDtype === 'bf16' ? roundArrayToBf16(v) : v);
      return rope3d(linearBf16(n, layer.qProj), tokens[j]!.pos, hd, c.ropeTheta, w.config.ropeTPairs);
    });
    xs = xs.map((x, j) => {
      const attn = new Float32Array(c.numHeads * hd);
      for (let h = 0; h < c.numHeads; h++) {
        const g = Math.floor(h / group);
        const ks = new Float32Array((j + 1) * hd);
        const vs = new Float32Array((j + 1) * hd);
        for (let p = 0; p <= j; p++) {
          ks.set(keys[p]!.subarray(g * hd, (g + 1) * hd), p * hd);
          vs.set(values[p]!.subarray(g * hd, (g + 1) * hd), p * hd);
        }
        attn.set(attentionSingleQuery(qs[j]!.subarray(h * hd, (h + 1) * hd), ks, vs), h * hd);
      }
      const h1 = addVectors(x, linearBf16(attn, layer.oProj));
      const n = rmsnorm(h1, layer.postAttentionLayernorm, c.rmsNormEps);
      if (layer.mlp.kind === 'dense') return addVectors(h1, swiGluMlp(n, layer.mlp));
      const vis = w.visionExperts[li];
      if (tokens[j]!.modality === 1 && vis) {
        // Same block shape, the vision router / bias / experts in place of the text ones.
        const vmoe: MoeMlpWeights = { kind: 'moe', gate: vis.gate, correctionBias: vis.correctionBias, experts: vis.experts, shared: layer.mlp.shared };
        return addVectors(h1, moeMlp(n, vmoe, { ...c.moe!, intermediateSize: w.config.visionMoeIntermediateSize }));
      }
      return addVectors(h1, moeMlp(n, layer.mlp, c.moe!));
    });
  });
  const out = new Float32Array(tokens.length * c.vocabSize);
  xs.forEach((x, j) => out.set(linearBf16(rmsnorm(x, t.norm, c.rmsNormEps), t.lmHead), j * c.vocabSize));
  return out;
}
