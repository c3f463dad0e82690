import type { KernelImpl, NativeModelSpec } from '../../../kernels/ts/index.js';
import type { NativeVisionSpec } from '../../../kernels/ts/vision.js';
import type { VlModelWeights } from '../vl-model-types.js';
import { nativeSpecFor } from './native-spec.js';

/** The VisionModel spec (ViT + resampler) of loaded VL weights; typed arrays are shared, not copied. */
export function nativeVisionSpecFor(w: VlModelWeights, isa?: KernelImpl): NativeVisionSpec {
  const c = w.config;
  const v = c.vision;
  const r = w.vision.resampler;
  const stage = (s: typeof r.spatial) => ({ fc1: s.fc1.data, fc1Bias: s.fc1Bias, fc2: s.fc2.data, fc2Bias: s.fc2Bias, lnWeight: s.lnWeight, lnBias: s.lnBias });
  return {
    isa,
    dims: {
      patch: v.patchSize,
      channels: v.inChannels,
      hidden: v.hiddenSize,
      heads: v.numHeads,
      depth: v.depth,
      intermediate: v.intermediateSize,
      merge: v.spatialMergeSize,
      textHidden: c.text.hiddenSize,
      lnEps: v.layerNormEps,
      textEps: c.text.rmsNormEps,
      ropeTheta: v.ropeTheta,
    },
    weights: {
      patchEmbed: w.vision.patchEmbed.data,
      blocks: w.vision.blocks.map((b) => ({
        norm1Weight: b.norm1Weight,
        norm1Bias: b.norm1Bias,
        qkv: b.qkv.data,
        qkvBias: b.qkvBias,
        proj: b.proj.data,
        projBias: b.projBias,
        norm2Weight: b.norm2Weight,
        norm2Bias: b.norm2Bias,
        fc1: b.fc1.data,
        fc1Bias: b.fc1Bias,
        fc2: b.fc2.data,
        fc2Bias: b.fc2Bias,
      })),
      lnWeight: w.vision.lnWeight,
      lnBias: w.vision.lnBias,
      resampler: { spatial: stage(r.spatial), temporal: stage(r.temporal), mlp: r.mlp.data, mlpBias: r.mlpBias, afterNorm: r.afterNorm },
    },
  };
}

/** The TextModel spec of the VL decoder: the text spec plus vision experts and 3-D RoPE dims. */
export function nativeVlTextSpecFor(w: VlModelWeights, limits: { maxTokens: number; maxCtx: number; isa?: KernelImpl }): NativeModelSpec {
  const spec = nativeSpecFor(w.text, limits);
  const dims = spec.dims as NativeModelSpec['dims'] & { visionMoeIntermediate: number; ropeTPairs: number };
  dims.visionMoeIntermediate = w.config.visionMoeIntermediateSize;
  dims.ropeTPairs = w.config.ropeTPairs;
  spec.weights.layers.forEach((l, i) => {
    const v = w.visionExperts[i];
    if (!v || l.mlp.kind !== 'moe') return;
    (l.mlp as typeof l.mlp & { vision: unknown }).vision = {
      router: v.gate,
      bias: v.correctionBias,
      experts: v.experts.map((e) => ({ gate: e.gateProj.data, up: e.upProj.data, down: e.downProj.data })),
    };
  });
  return spec;
}
