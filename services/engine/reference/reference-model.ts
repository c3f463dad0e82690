/**
 * The reference oracle: a plain TypeScript forward pass of ERNIE-4.5 dense (`ernie4_5`) and MoE
 * (`ernie4_5_moe`) text models. Slow and obvious on purpose; the native kernels are tested
 * against it.
 */

import { isMoeLayer } from '../model-types.js';
import { bf16Of, type LayerWeights, type LinearWeight, type TextModelWeights } from '../model-types.js';
import { roundArrayToBf16 } from './bf16.js';
import {
  addVectors,
  argmax,
  attentionSingleQuery,
  embedToken,
  linearBf16,
  moeMlp,
  rmsnorm,
  ropeInterleaved,
  swiGluMlp,
} from './ops.js';

export type KvDtype = 'bf16' | 'fp32';

export interface ReferenceOptions {
  /** Dtype of the KV cache; with 'bf16' K (after RoPE) and V are rounded before attention. Default 'bf16'. */
  kvDtype?: KvDtype;
}

export interface ReferenceSequence {
  /** Tokens processed so far. */
  readonly length: number;
  /** Process `tokens` at positions length..length+n-1; returns logits [n * vocab] for every new position. */
  forward(tokens: number[]): Float32Array;
  /** An independent copy of this sequence (same tokens and KV cache). */
  fork(): ReferenceSequence;
}

function checkMatrix(name: string, lw: LinearWeight, rows: number, cols: number): void {
  const m = bf16Of(lw, `reference model (${name})`);
  if (m.rows !== rows || m.cols !== cols || m.data.length !== rows * cols) {
    throw new Error(
      `${name}: expected [${rows}, ${cols}], got [${m.rows}, ${m.cols}] with ${m.data.length} elements`,
    );
  }
}

function checkVector(name: string, v: Float32Array, n: number): void {
  if (v.length !== n) throw new Error(`${name}: expected length ${n}, got ${v.length}`);
}

/** Throws if the weights do not match their config (shapes, MoE layout, unsupported features). */
export function validateWeights(w: TextModelWeights): void {
  const c = w.config;
  if (c.useBias) throw new Error('reference model: linear biases are not supported');
  if (c.numHeads % c.numKvHeads !== 0) {
    throw new Error(`reference model: num_heads ${c.numHeads} is not a multiple of num_kv_heads ${c.numKvHeads}`);
  }
  if (c.headDim % 2 !== 0) throw new Error(`reference model: head_dim ${c.headDim} must be even`);
  if (c.modelType === 'ernie4_5_moe' && !c.moe) throw new Error('reference model: ernie4_5_moe without moe config');
  if (w.layers.length !== c.numLayers) {
    throw new Error(`reference model: ${w.layers.length} layers, config says ${c.numLayers}`);
  }
  const h = c.hiddenSize;
  checkMatrix('embed_tokens', w.embedTokens, c.vocabSize, h);
  checkMatrix('lm_head', w.lmHead, c.vocabSize, h);
  checkVector('norm', w.norm, h);
  w.layers.forEach((l, i) => {
    const p = `layers.${i}`;
    checkVector(`${p}.input_layernorm`, l.inputLayernorm, h);
    checkVector(`${p}.post_attention_layernorm`, l.postAttentionLayernorm, h);
    checkMatrix(`${p}.q_proj`, l.qProj, c.numHeads * c.headDim, h);
    checkMatrix(`${p}.k_proj`, l.kProj, c.numKvHeads * c.headDim, h);
    checkMatrix(`${p}.v_proj`, l.vProj, c.numKvHeads * c.headDim, h);
    checkMatrix(`${p}.o_proj`, l.oProj, h, c.numHeads * c.headDim);
    if (isMoeLayer(c, i)) {
      const moe = c.moe!;
      if (l.mlp.kind !== 'moe') throw new Error(`${p}: expected an MoE block`);
      checkVector(`${p}.mlp.gate`, l.mlp.gate, moe.numExperts * h);
      checkVector(`${p}.mlp.e_score_correction_bias`, l.mlp.correctionBias, moe.numExperts);
      if (l.mlp.experts.length !== moe.numExperts) {
        throw new Error(`${p}: ${l.mlp.experts.length} experts, config says ${moe.numExperts}`);
      }
      l.mlp.experts.forEach((e, j) => {
        checkMatrix(`${p}.mlp.experts.${j}.gate_proj`, e.gateProj, moe.intermediateSize, h);
        checkMatrix(`${p}.mlp.experts.${j}.up_proj`, e.upProj, moe.intermediateSize, h);
        checkMatrix(`${p}.mlp.experts.${j}.down_proj`, e.downProj, h, moe.intermediateSize);
      });
      if (moe.numSharedExperts > 0) {
        const s = l.mlp.shared;
        if (!s) throw new Error(`${p}: config has shared experts but the weights do not`);
        const width = moe.intermediateSize * moe.numSharedExperts;
        checkMatrix(`${p}.mlp.shared_experts.gate_proj`, s.gateProj, width, h);
        checkMatrix(`${p}.mlp.shared_experts.up_proj`, s.upProj, width, h);
        checkMatrix(`${p}.mlp.shared_experts.down_proj`, s.downProj, h, width);
      } else if (l.mlp.shared) {
        throw new Error(`${p}: shared expert weights present but config has none`);
      }
    } else {
      if (l.mlp.kind !== 'dense') throw new Error(`${p}: expected a dense MLP`);
      checkMatrix(`${p}.mlp.gate_proj`, l.mlp.gateProj, c.intermediateSize, h);
      checkMatrix(`${p}.mlp.up_proj`, l.mlp.upProj, c.intermediateSize, h);
      checkMatrix(`${p}.mlp.down_proj`, l.mlp.downProj, h, c.intermediateSize);
    }
  });
}

/** Per-layer KV cache: one [numKvHeads * headDim] row per position, already rounded to the cache dtype. */
interface LayerCache {
  keys: Float32Array[];
  values: Float32Array[];
}

class Sequence implements ReferenceSequence {
  private readonly caches: LayerCache[];
  private tokenCount: number;

  constructor(
    private readonly model: ReferenceModel,
    caches?: LayerCache[],
    tokenCount = 0,
  ) {
    this.caches = caches ?? model.weights.layers.map(() => ({ keys: [], values: [] }));
    this.tokenCount = tokenCount;
  }

  get length(): number {
    return this.tokenCount;
  }

  fork(): ReferenceSequence {
    // Cached rows are never mutated, so sharing them between copies is safe.
    const caches = this.caches.map((c) => ({ keys: [...c.keys], values: [...c.values] }));
    return new Sequence(this.model, caches, this.tokenCount);
  }

  forward(tokens: number[]): Float32Array {
    const w = this.model.weights;
    const c = w.config;
    for (const t of tokens) {
      if (!Number.isInteger(t) || t < 0 || t >= c.vocabSize) {
        throw new Error(`reference model: token id ${t} out of range [0, ${c.vocabSize})`);
      }
    }
    const start = this.tokenCount;
    let hidden = tokens.map((t) => embedToken(w.embedTokens, t));
    w.layers.forEach((layer, i) => {
      hidden = this.layerForward(i, layer, hidden, start);
    });
    const logits = new Float32Array(tokens.length * c.vocabSize);
    hidden.forEach((x, j) => {
      logits.set(linearBf16(rmsnorm(x, w.norm, c.rmsNormEps), w.lmHead), j * c.vocabSize);
    });
    this.tokenCount += tokens.length;
    return logits;
  }

  /** One decoder layer over all new tokens (a prefill chunk), positions start..start+n-1. */
  private layerForward(index: number, layer: LayerWeights, xs: Float32Array[], start: number): Float32Array[] {
    const c = this.model.weights.config;
    const cache = this.caches[index]!;
    const hd = c.headDim;
    const group = c.numHeads / c.numKvHeads;
    const roundKv = this.model.kvDtype === 'bf16';

    // Project all new tokens and append their K/V to the cache (rounded to the cache dtype).
    const qs: Float32Array[] = [];
    xs.forEach((x, j) => {
      const pos = start + j;
      const normed = rmsnorm(x, layer.inputLayernorm, c.rmsNormEps);
      qs.push(ropeInterleaved(linearBf16(normed, layer.qProj), pos, hd, c.ropeTheta));
      const k = ropeInterleaved(linearBf16(normed, layer.kProj), pos, hd, c.ropeTheta);
      const v = linearBf16(normed, layer.vProj);
      cache.keys.push(roundKv ? roundArrayToBf16(k) : k);
      cache.values.push(roundKv ? roundArrayToBf16(v) : v);
    });
    if (cache.keys.length !== start + xs.length) throw new Error('reference model: KV cache out of sync');

    return xs.map((x, j) => {
      const visible = start + j + 1; // causal: positions 0..start+j
      const attn = new Float32Array(c.numHeads * hd);
      for (let h = 0; h < c.numHeads; h++) {
        const kvHead = Math.floor(h / group);
        const keys = new Float32Array(visible * hd);
        const values = new Float32Array(visible * hd);
        for (let p = 0; p < visible; p++) {
          keys.set(cache.keys[p]!.subarray(kvHead * hd, (kvHead + 1) * hd), p * hd);
          values.set(cache.values[p]!.subarray(kvHead * hd, (kvHead + 1) * hd), p * hd);
        }
        const q = qs[j]!.subarray(h * hd, (h + 1) * hd);
        attn.set(attentionSingleQuery(q, keys, values, 1 / Math.sqrt(hd)), h * hd);
      }
      const h1 = addVectors(x, linearBf16(attn, layer.oProj));
      const normed = rmsnorm(h1, layer.postAttentionLayernorm, c.rmsNormEps);
      const mlp = layer.mlp.kind === 'moe' ? moeMlp(normed, layer.mlp, c.moe!) : swiGluMlp(normed, layer.mlp);
      return addVectors(h1, mlp);
    });
  }
}

export class ReferenceModel {
  readonly kvDtype: KvDtype;

  constructor(
    readonly weights: TextModelWeights,
    opts: ReferenceOptions = {},
  ) {
    validateWeights(weights);
    this.kvDtype = opts.kvDtype ?? 'bf16';
    if (this.kvDtype !== 'bf16' && this.kvDtype !== 'fp32') {
      throw new Error(`reference model: unknown kv dtype ${String(this.kvDtype)}`);
    }
  }

  /** A new empty sequence (its own KV cache as plain arrays). */
  newSequence(): ReferenceSequence {
    return new Sequence(this);
  }
}

export interface ReferenceGreedyOptions extends ReferenceOptions {
  /** Stop after emitting one of these tokens (it is included in the output). Default: never stop early. */
  stopTokens?: number[];
}

/**
 * Greedy decoding: prefill `prompt` in one call, then pick the argmax (ties → lowest id) and feed
 * it back, up to `maxNewTokens` tokens. Returns only the generated tokens.
 */
export function referenceGreedy(
  weights: TextModelWeights,
  prompt: number[],
  maxNewTokens: number,
  opts: ReferenceGreedyOptions = {},
): number[] {
  if (prompt.length === 0) throw new Error('referenceGreedy: empty prompt');
  const vocab = weights.config.vocabSize;
  const stop = new Set(opts.stopTokens ?? []);
  const seq = new ReferenceModel(weights, opts).newSequence();
  const out: number[] = [];
  let logits = seq.forward(prompt);
  let row = prompt.length - 1;
  while (out.length < maxNewTokens) {
    const next = argmax(logits, row * vocab, vocab);
    out.push(next);
    if (stop.has(next) || out.length >= maxNewTokens) break;
    logits = seq.forward([next]);
    row = 0;
  }
  return out;
}
