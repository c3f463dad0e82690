/**
 * Plain data types shared by the weight loader, the reference oracle and the native model.
 * Matrices are bf16 (raw uint16 bit patterns, row-major [out, in] as in Hugging Face `nn.Linear`);
 * vectors that steer numerics (norm weights, MoE gate, correction bias) are fp32.
 */

export type TextFamily = 'ernie4_5' | 'ernie4_5_moe';

/** The subset of a Hugging Face `config.json` the text engine uses, validated and defaulted. */
export interface TextModelConfig {
  modelType: TextFamily;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  vocabSize: number;
  maxPositionEmbeddings: number;
  ropeTheta: number;
  rmsNormEps: number;
  tieWordEmbeddings: boolean;
  useBias: boolean;
  bosTokenId: number;
  eosTokenId: number | number[];
  padTokenId: number;
  /** Present for `ernie4_5_moe` only. */
  moe?: MoeConfig;
  /** Present when the checkpoint stores its linear layers pre-quantized (config.json quantization_config). */
  quantization?: StoredQuantization;
}

/**
 * config.json `quantization_config` of a pre-quantized Tandem checkpoint (docs/quantization.md):
 * {"quant_method": "tandem", "scheme": "wint4", "bits": 4, "group_size": 128, "lm_head": true}.
 * group 0 = one scale per output channel.
 */
export interface StoredQuantization {
  scheme: 'wint8' | 'wint4';
  bits: 8 | 4;
  group: number;
  lmHead: boolean;
  /** `"rotation"`: down projections' rows Hadamard-rotated before quantization; absent in checkpoints written before it (none). */
  rotation: 'none' | 'down-hadamard128';
  /**
   * `"lm_head_bits"`: the head's bits when they differ from the scheme's (wint4 writes 8: an int8
   * head, one scale per output channel); absent in checkpoints written before it (= `bits`).
   */
  headBits: 8 | 4;
  /**
   * `"format_version"`: 1 (absent), 2 (since `lm_head_bits` and `zero_points`) or 3 (wint4 groups of
   * 32 with zero points stored in panels of 16 rows); a newer one is refused, and so is a version
   * below 3 holding zero-point groups of 32 (their codes were row-major).
   */
  formatVersion: number;
  /** `"zero_points"` (wint4): its 4-bit matrices are asymmetric, with `X.zeros` beside `X.scales`; absent = false. */
  zeroPoints: boolean;
}

export interface MoeConfig {
  numExperts: number;
  topK: number;
  intermediateSize: number;
  numSharedExperts: number;
  layerStartIndex: number;
  layerEndIndex: number;
  layerInterval: number;
  normMin: number;
}

/** A bf16 matrix: `data[r * cols + c]` holds the bf16 bits of element (r, c). */
export interface Bf16Matrix {
  rows: number;
  cols: number;
  data: Uint16Array;
}

/**
 * A weight-only quantized matrix as stored in pre-quantized checkpoints (format in
 * docs/quantization.md and kernels/src/quant.h): `data` holds rows x rowBytes codes, `scales`
 * rows x groups fp32 scales.
 */
export interface QuantizedMatrix {
  rows: number;
  cols: number;
  bits: 8 | 4;
  group: number;
  data: Uint8Array;
  scales: Float32Array;
  /** Quantized from Hadamard-rotated rows: the kernels rotate activations the same way. */
  rotated?: boolean;
  /** 4 bits, asymmetric: one zero point in [0, 15] per group (`X.zeros`, rows x groups bytes). */
  zeros?: Uint8Array;
}

/** A linear layer's weight: bf16, or quantized when the checkpoint was written pre-quantized. */
export type LinearWeight = Bf16Matrix | QuantizedMatrix;

export function isQuantized(m: LinearWeight): m is QuantizedMatrix {
  return 'bits' in m;
}

/** The bf16 matrix, or a clear error for code that only runs on bf16 weights (the reference model). */
export function bf16Of(m: LinearWeight, what: string): Bf16Matrix {
  if (isQuantized(m)) throw new Error(`${what} needs bf16 weights; this checkpoint is pre-quantized (wint${m.bits})`);
  return m;
}

export interface MlpProjections {
  gateProj: LinearWeight; // [intermediate, hidden]
  upProj: LinearWeight; // [intermediate, hidden]
  downProj: LinearWeight; // [hidden, intermediate]
}

export interface DenseMlpWeights extends MlpProjections {
  kind: 'dense';
}

export interface MoeMlpWeights {
  kind: 'moe';
  gate: Float32Array; // [numExperts, hidden], fp32 as in the reference implementation
  correctionBias: Float32Array; // [numExperts]
  experts: MlpProjections[];
  /** All shared experts fused into one MLP of width moe_intermediate * num_shared (as in HF). */
  shared?: MlpProjections;
}

export interface LayerWeights {
  inputLayernorm: Float32Array; // [hidden]
  postAttentionLayernorm: Float32Array; // [hidden]
  qProj: LinearWeight; // [heads*headDim, hidden]
  kProj: LinearWeight; // [kvHeads*headDim, hidden]
  vProj: LinearWeight; // [kvHeads*headDim, hidden]
  oProj: LinearWeight; // [hidden, heads*headDim]
  mlp: DenseMlpWeights | MoeMlpWeights;
}

export interface TextModelWeights {
  config: TextModelConfig;
  embedTokens: Bf16Matrix; // [vocab, hidden]
  layers: LayerWeights[];
  norm: Float32Array; // [hidden]
  /** The LM head; the same object as `embedTokens` when embeddings are tied (and not quantized). */
  lmHead: LinearWeight; // [vocab, hidden]
}

/** Whether decoder layer `i` uses the MoE block (the rule of the transformers implementation). */
export function isMoeLayer(config: TextModelConfig, i: number): boolean {
  const m = config.moe;
  if (!m) return false;
  return (i + 1) % m.layerInterval === 0 && i >= m.layerStartIndex && i <= m.layerEndIndex;
}
