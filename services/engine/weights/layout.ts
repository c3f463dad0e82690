/**
 * The Hugging Face tensor layout of the ERNIE-4.5 text models: every tensor name with the shape
 * config.json implies. Shared by the loader (what to expect) and the generator (what to write).
 */
import { isMoeLayer, type StoredQuantization, type TextModelConfig } from '../model-types.js';

/**
 * matrix: bf16 in the engine (`Bf16Matrix`); norm: fp32 vector; gate: fp32 [experts, hidden]
 * router weight; bias: fp32 expert-score correction bias.
 */
export type TensorRole = 'matrix' | 'norm' | 'gate' | 'bias' | 'qweight' | 'scales' | 'zeros';

export interface TensorSpec {
  name: string;
  shape: number[];
  role: TensorRole;
  /** Other shapes that are also accepted (e.g. [E] for the [1, E] correction bias). */
  altShapes?: number[][];
  /** How the shape follows from config.json, for error messages. */
  because: string;
  /** For matrices: the input width (fan-in), used by the generator to scale its init. */
  fanIn?: number;
  /** qweight / scales: the logical [rows, cols] matrix they store, and its spec. */
  of?: TensorSpec;
}

export function layerPrefix(i: number): string {
  return `model.layers.${i}`;
}

function mlpSpecs(prefix: string, width: number, hidden: number, because: string): TensorSpec[] {
  return [
    { name: `${prefix}.gate_proj.weight`, shape: [width, hidden], role: 'matrix', fanIn: hidden, because: `[${because}, hidden_size]` },
    { name: `${prefix}.up_proj.weight`, shape: [width, hidden], role: 'matrix', fanIn: hidden, because: `[${because}, hidden_size]` },
    { name: `${prefix}.down_proj.weight`, shape: [hidden, width], role: 'matrix', fanIn: width, because: `[hidden_size, ${because}]` },
  ];
}

/** Every tensor the model needs, in model order (embeddings, layers 0..N-1, final norm, head). */
export function textTensorSpecs(c: TextModelConfig): TensorSpec[] {
  const h = c.hiddenSize;
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  const specs: TensorSpec[] = [
    { name: 'model.embed_tokens.weight', shape: [c.vocabSize, h], role: 'matrix', fanIn: h, because: '[vocab_size, hidden_size]' },
  ];
  for (let i = 0; i < c.numLayers; i++) {
    const p = layerPrefix(i);
    specs.push(
      { name: `${p}.input_layernorm.weight`, shape: [h], role: 'norm', because: '[hidden_size]' },
      { name: `${p}.self_attn.q_proj.weight`, shape: [q, h], role: 'matrix', fanIn: h, because: '[num_attention_heads*head_dim, hidden_size]' },
      { name: `${p}.self_attn.k_proj.weight`, shape: [kv, h], role: 'matrix', fanIn: h, because: '[num_key_value_heads*head_dim, hidden_size]' },
      { name: `${p}.self_attn.v_proj.weight`, shape: [kv, h], role: 'matrix', fanIn: h, because: '[num_key_value_heads*head_dim, hidden_size]' },
      { name: `${p}.self_attn.o_proj.weight`, shape: [h, q], role: 'matrix', fanIn: q, because: '[hidden_size, num_attention_heads*head_dim]' },
      { name: `${p}.post_attention_layernorm.weight`, shape: [h], role: 'norm', because: '[hidden_size]' },
    );
    if (isMoeLayer(c, i)) {
      const m = c.moe!;
      specs.push(
        { name: `${p}.mlp.gate.weight`, shape: [m.numExperts, h], role: 'gate', fanIn: h, because: '[moe_num_experts, hidden_size]' },
        {
          name: `${p}.mlp.moe_statics.e_score_correction_bias`,
          shape: [1, m.numExperts],
          altShapes: [[m.numExperts]],
          role: 'bias',
          because: '[1, moe_num_experts]',
        },
      );
      for (let e = 0; e < m.numExperts; e++) {
        specs.push(...mlpSpecs(`${p}.mlp.experts.${e}`, m.intermediateSize, h, 'moe_intermediate_size'));
      }
      if (m.numSharedExperts > 0) {
        specs.push(
          ...mlpSpecs(`${p}.mlp.shared_experts`, m.intermediateSize * m.numSharedExperts, h, 'moe_intermediate_size*moe_num_shared_experts'),
        );
      }
    } else {
      specs.push(...mlpSpecs(`${p}.mlp`, c.intermediateSize, h, 'intermediate_size'));
    }
  }
  specs.push({ name: 'model.norm.weight', shape: [h], role: 'norm', because: '[hidden_size]' });
  if (!c.tieWordEmbeddings) {
    specs.push({ name: 'lm_head.weight', shape: [c.vocabSize, h], role: 'matrix', fanIn: h, because: '[vocab_size, hidden_size]' });
  }
  return specs;
}

/** Columns padded to whole groups (and to the 128-element block every group is made of). */
export function quantizedShape(rows: number, cols: number, q: Pick<StoredQuantization, 'bits' | 'group'>): { rowBytes: number; groups: number; group: number } {
  const padded = Math.ceil(cols / 128) * 128;
  const group = q.group || padded;
  // Groups of 32 / 64 (wint4) still pad rows to whole 128-element blocks.
  const kp = group < 128 ? padded : Math.ceil(cols / group) * group;
  return { rowBytes: (kp * q.bits) / 8, groups: kp / group, group };
}

/** The bits and group of the stored matrix `name` (`X.weight`): the head's own when they differ (per output channel). */
export function matrixQuantization(
  q: Pick<StoredQuantization, 'bits' | 'group' | 'headBits'> & { zeroPoints?: boolean },
  name: string,
): { bits: 8 | 4; group: number; zeroPoints: boolean } {
  if (name === 'lm_head.weight' && q.headBits !== q.bits) return { bits: q.headBits, group: 0, zeroPoints: false };
  return { bits: q.bits, group: q.group, zeroPoints: q.bits === 4 && (q.zeroPoints ?? false) };
}

/** Whether a matrix spec is stored quantized under `q` (all linear layers; not the embedding table). */
export function isQuantizedMatrix(s: TensorSpec, q: StoredQuantization): boolean {
  if (s.role !== 'matrix' || s.name === 'model.embed_tokens.weight') return false;
  return s.name !== 'lm_head.weight' || q.lmHead;
}

/**
 * The tensors a checkpoint stores: `textTensorSpecs`, with each quantized matrix `X.weight`
 * replaced by `X.qweight` (U8 [rows, rowBytes]) and `X.scales` (F32 [rows, groups]). Codes come
 * first, so in every shard they start 64-byte aligned (their sizes are multiples of 64).
 */
export function storedTensorSpecs(c: TextModelConfig): TensorSpec[] {
  const specs = textTensorSpecs(c);
  const q = c.quantization;
  if (!q) return specs;
  if (c.tieWordEmbeddings && q.lmHead) {
    // The embedding table stays bf16 while the head is quantized: both are stored.
    specs.push({ name: 'lm_head.weight', shape: [c.vocabSize, c.hiddenSize], role: 'matrix', fanIn: c.hiddenSize, because: '[vocab_size, hidden_size]' });
  }
  const codes: TensorSpec[] = [];
  const rest: TensorSpec[] = [];
  // Zero points (U8, any length) last, so no F32 tensor after them loses its 4-byte alignment.
  const zeros: TensorSpec[] = [];
  for (const s of specs) {
    if (!isQuantizedMatrix(s, q)) {
      rest.push(s);
      continue;
    }
    const [rows, cols] = s.shape as [number, number];
    const mq = matrixQuantization(q, s.name);
    const { rowBytes, groups } = quantizedShape(rows, cols, mq);
    const base = s.name.replace(/\.weight$/, '');
    codes.push({ name: `${base}.qweight`, shape: [rows, rowBytes], role: 'qweight', of: s, because: `${s.because} as ${q.scheme} codes` });
    rest.push({ name: `${base}.scales`, shape: [rows, groups], role: 'scales', of: s, because: `${s.because} as ${q.scheme} scales` });
    if (mq.zeroPoints) zeros.push({ name: `${base}.zeros`, shape: [rows, groups], role: 'zeros', of: s, because: `${s.because} as ${q.scheme} zero points` });
  }
  return [...codes, ...rest, ...zeros];
}

/** Tensors real ERNIE checkpoints carry that the engine does not use and that need no warning. */
export function isSilentlyIgnoredTensor(name: string): boolean {
  // Multi-token-prediction head (model.mtp_block.*, model.mtp_emb_norm.*, ...) and RoPE buffers.
  return /(^|\.)mtp/.test(name) || name.endsWith('.rotary_emb.inv_freq');
}

/** Total parameter count implied by a config. */
export function countParameters(c: TextModelConfig): number {
  return textTensorSpecs(c).reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0);
}
