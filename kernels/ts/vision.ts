/**
 * Typed access to the vision-language parts of the native addon: the VisionModel (ViT +
 * resampler), the VL ops bound for unit tests, and the extra inputs the text model's forward takes
 * for ERNIE-4.5-VL (embedding overrides, per-token modality, 3-D RoPE positions).
 */
import { native, type KernelImpl, type KvLayout, type NativeBatch, type NativeMlp } from './index.js';

export interface NativeVisionDims {
  patch: number;
  channels: number;
  hidden: number;
  heads: number;
  depth: number;
  intermediate: number;
  merge: number;
  textHidden: number;
  lnEps: number;
  textEps: number;
  ropeTheta: number;
}

export interface NativeVisionBlock {
  norm1Weight: Float32Array;
  norm1Bias: Float32Array;
  qkv: Uint16Array;
  qkvBias: Float32Array;
  proj: Uint16Array;
  projBias: Float32Array;
  norm2Weight: Float32Array;
  norm2Bias: Float32Array;
  fc1: Uint16Array;
  fc1Bias: Float32Array;
  fc2: Uint16Array;
  fc2Bias: Float32Array;
}

export interface NativeResamplerStage {
  fc1: Uint16Array;
  fc1Bias: Float32Array;
  fc2: Uint16Array;
  fc2Bias: Float32Array;
  lnWeight: Float32Array;
  lnBias: Float32Array;
}

export interface NativeVisionSpec {
  dims: NativeVisionDims;
  isa?: KernelImpl;
  weights: {
    patchEmbed: Uint16Array;
    blocks: NativeVisionBlock[];
    lnWeight: Float32Array;
    lnBias: Float32Array;
    resampler: {
      spatial: NativeResamplerStage;
      temporal: NativeResamplerStage;
      mlp: Uint16Array;
      mlpBias: Float32Array;
      afterNorm: Float32Array;
    };
  };
}

export interface NativeVisionModel {
  /**
   * Encodes images. `pixels`: the images one after another, each [channels, h*patch, w*patch]
   * fp32, already normalized; `grid`: (t, h, w) per image in patches (t = 1, h and w multiples of
   * the merge size). `out`: [Σ h*w/merge², textHidden]; `vitOut` (optional): the ViT output
   * [Σ h*w, hidden] in patch order (m×m windows row-major, patches row-major inside a window).
   */
  encode(pixels: Float32Array, grid: Int32Array, out: Float32Array, vitOut?: Float32Array): Promise<void>;
}

/** The vision experts of one MoE layer (given on `mlp.vision` of a NativeLayer). */
export interface NativeVisionExperts {
  router: Float32Array;
  bias: Float32Array;
  experts: NativeMlp[];
}

/** Extra forward inputs of the VL model (all optional; absent = text only, 1-D RoPE). */
export interface NativeVlBatchExtras {
  /** Token indices whose input embedding is replaced by a row of `embeds` (in this order). */
  embedRows?: Int32Array;
  /** [embedRows.length, hidden] fp32: the image tokens from VisionModel.encode. */
  embeds?: Float32Array;
  /** Per token: 0 routes to the text experts, 1 to the vision experts. */
  modality?: Int32Array;
  /** Per token (t, h, w) RoPE positions [T * 3]; `positions` stays the KV slot / causal index. */
  ropePositions?: Int32Array;
}
export type NativeVlBatch = NativeBatch & NativeVlBatchExtras;

export interface NativeVlOps {
  layernorm(x: Float32Array, rows: number, cols: number, w: Float32Array, b: Float32Array, eps: number, out: Float32Array, impl?: KernelImpl): void;
  fullAttention(
    q: Float32Array, k: Float32Array, v: Float32Array, ld: number, heads: number, headDim: number, segments: Int32Array,
    out: Float32Array, impl?: KernelImpl,
  ): void;
  ropeVision2d(x: Float32Array, rows: number, ld: number, heads: number, headDim: number, posH: Int32Array, posW: Int32Array, theta: number): void;
  rope3d(x: Float32Array, T: number, heads: number, headDim: number, pos3: Int32Array, tPairs: number, theta: number): void;
  quickGelu(x: Float32Array): void;
  geluErf(x: Float32Array): void;
  patchify(pixels: Float32Array, C: number, H: number, W: number, patch: number, merge: number, out: Float32Array, posH: Int32Array, posW: Int32Array): void;
}

interface VisionAddon {
  VisionModel: new (spec: NativeVisionSpec) => NativeVisionModel;
  vlOps: NativeVlOps;
}

const addon = native as unknown as VisionAddon;
export const NativeVisionModelClass = addon.VisionModel;
export const vlOps: NativeVlOps = addon.vlOps;

/** The text model's forward with the VL extras (the same native method, wider batch type). */
export interface NativeVlTextModel {
  forward(batch: NativeVlBatch, kv: ArrayBuffer, layout: KvLayout, logits: Float32Array, onLayer?: (layer: number) => void): Promise<void>;
}
