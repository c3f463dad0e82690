import type { KernelImpl, NativeLinear, NativeMlp, NativeModelSpec } from '../../../kernels/ts/index.js';
import { isQuantized, type LinearWeight, type MlpProjections, type TextModelWeights } from '../model-types.js';

/** A linear layer for the native model: the bf16 bits, or the quantized codes and scales. */
export function nativeLinear(m: LinearWeight): NativeLinear {
  return isQuantized(m)
    ? { bits: m.bits, group: m.group, data: m.data, scales: m.scales, ...(m.rotated ? { rotated: true } : {}), ...(m.zeros ? { zeros: m.zeros } : {}) }
    : m.data;
}

export function nativeMlp(m: MlpProjections): NativeMlp {
  return { gate: nativeLinear(m.gateProj), up: nativeLinear(m.upProj), down: nativeLinear(m.downProj) };
}

/** Maps loaded weights onto the native model's spec; the typed arrays are shared, not copied. */
export function nativeSpecFor(
  w: TextModelWeights,
  limits: { maxTokens: number; maxCtx: number; isa?: KernelImpl },
): NativeModelSpec {
  const c = w.config;
  const moe = c.moe;
  return {
    isa: limits.isa,
    dims: {
      hidden: c.hiddenSize,
      heads: c.numHeads,
      kvHeads: c.numKvHeads,
      headDim: c.headDim,
      vocab: c.vocabSize,
      layers: c.numLayers,
      intermediate: c.intermediateSize,
      numExperts: moe?.numExperts ?? 0,
      topK: moe?.topK ?? 0,
      moeIntermediate: moe?.intermediateSize ?? 0,
      sharedIntermediate: moe ? moe.intermediateSize * moe.numSharedExperts : 0,
      eps: c.rmsNormEps,
      ropeTheta: c.ropeTheta,
      moeNormMin: moe?.normMin ?? 1e-12,
      maxTokens: limits.maxTokens,
      maxCtx: limits.maxCtx,
    },
    weights: {
      embed: w.embedTokens.data,
      lmHead: nativeLinear(w.lmHead),
      finalNorm: w.norm,
      layers: w.layers.map((l) => ({
        inputNorm: l.inputLayernorm,
        postNorm: l.postAttentionLayernorm,
        q: nativeLinear(l.qProj),
        k: nativeLinear(l.kProj),
        v: nativeLinear(l.vProj),
        o: nativeLinear(l.oProj),
        mlp:
          l.mlp.kind === 'dense'
            ? { kind: 'dense' as const, ...nativeMlp(l.mlp) }
            : {
                kind: 'moe' as const,
                router: l.mlp.gate,
                bias: l.mlp.correctionBias,
                experts: l.mlp.experts.map(nativeMlp),
                shared: l.mlp.shared ? nativeMlp(l.mlp.shared) : undefined,
              },
      })),
    },
  };
}
