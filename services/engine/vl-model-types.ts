/**
 * Plain data types of the ERNIE-4.5-VL MoE model (`ernie4_5_vl_moe`): the vision encoder (ViT),
 * the resampler, and the text backbone, which is an `ernie4_5_moe` decoder whose MoE layers carry
 * a second, separate set of experts for vision tokens. Same conventions as model-types.ts:
 * matrices bf16 [out, in], vectors fp32.
 */
import type { Bf16Matrix, TextModelConfig, TextModelWeights } from './model-types.js';

export type VlFamily = 'ernie4_5_vl_moe';

export interface VisionConfig {
  depth: number;
  hiddenSize: number;
  intermediateSize: number;
  numHeads: number;
  /** hiddenSize / numHeads; a multiple of 4 (the 2-D RoPE splits half a head between h and w). */
  headDim: number;
  patchSize: number;
  inChannels: number;
  spatialMergeSize: number;
  temporalMergeSize: number;
  /** LayerNorm eps of the ViT and the resampler (`vision_config.rms_norm_eps`, 1e-6). */
  layerNormEps: number;
  /** Base of the ViT's 2-D rotary table (10000 in the reference implementation). */
  ropeTheta: number;
}

export interface VlModelConfig {
  modelType: VlFamily;
  /**
   * The text backbone as an `ernie4_5_moe` config; `moe` describes the text experts. The vision
   * experts have the same count and top-k, with their own width (`visionMoeIntermediateSize`).
   */
  text: TextModelConfig;
  visionMoeIntermediateSize: number;
  /** Rotary pairs turned by the temporal position (mrope_section[2], "freq_allocation"). */
  ropeTPairs: number;
  vision: VisionConfig;
  imageTokenId: number;
  imageStartTokenId: number;
  imageEndTokenId: number;
  videoTokenId: number;
  videoStartTokenId: number;
  videoEndTokenId: number;
}

export interface VisionBlockWeights {
  norm1Weight: Float32Array;
  norm1Bias: Float32Array;
  /** [3 * hidden, hidden]: the rows of all q heads, then all k heads, then all v heads. */
  qkv: Bf16Matrix;
  qkvBias: Float32Array;
  proj: Bf16Matrix;
  projBias: Float32Array;
  norm2Weight: Float32Array;
  norm2Bias: Float32Array;
  fc1: Bf16Matrix;
  fc1Bias: Float32Array;
  fc2: Bf16Matrix;
  fc2Bias: Float32Array;
}

/** fc1 → GELU → fc2 → LayerNorm. */
export interface ResamplerStageWeights {
  fc1: Bf16Matrix;
  fc1Bias: Float32Array;
  fc2: Bf16Matrix;
  fc2Bias: Float32Array;
  lnWeight: Float32Array;
  lnBias: Float32Array;
}

export interface VisionWeights {
  /** [hidden, channels * patch * patch], no bias. */
  patchEmbed: Bf16Matrix;
  blocks: VisionBlockWeights[];
  lnWeight: Float32Array;
  lnBias: Float32Array;
  resampler: {
    spatial: ResamplerStageWeights;
    temporal: ResamplerStageWeights;
    mlp: Bf16Matrix;
    mlpBias: Float32Array;
    afterNorm: Float32Array;
  };
}

export interface SwiGluExpert {
  gateProj: Bf16Matrix;
  upProj: Bf16Matrix;
  downProj: Bf16Matrix;
}

/** The vision half of one MoE layer: its own router, correction bias and experts. */
export interface VisionExpertWeights {
  gate: Float32Array; // [numExperts, hidden]
  correctionBias: Float32Array; // [numExperts]
  experts: SwiGluExpert[];
}

export interface VlModelWeights {
  config: VlModelConfig;
  /** The decoder with the text experts (a plain ernie4_5_moe model for text-only input). */
  text: TextModelWeights;
  /** Per decoder layer: the vision experts of MoE layers, undefined for dense layers. */
  visionExperts: Array<VisionExpertWeights | undefined>;
  vision: VisionWeights;
}

/** One still image in patches: t = 1 (video is not supported), h and w multiples of the merge size. */
import type { ImageGrid } from '../protocol/prompt-image.js';

export type { ImageGrid };

/** Tokens an image turns into in the text sequence. */
export function imageTokenCount(grid: ImageGrid, mergeSize = 2): number {
  return (grid.h / mergeSize) * (grid.w / mergeSize);
}
