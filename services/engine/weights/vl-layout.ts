/**
 * The tensor layout of an ERNIE-4.5-VL MoE checkpoint, with the names the published checkpoints
 * use (the transformers implementation renames them on load; we read them as they are):
 *  - `vision_model.*`: patch_embed.proj, blocks.N.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,mlp.fc2}, ln;
 *  - `model.resampler_model.*`: spatial_linear.{0,2,3} and temporal_linear.{0,2,3} (fc1, fc2,
 *    LayerNorm of an nn.Sequential with the GELU at index 1), mlp, after_norm;
 *  - the decoder as ernie4_5_moe, except in MoE layers: `mlp.gate.weight` (text router) and
 *    `mlp.gate.weight_1` (vision router), stored [hidden, experts]; one
 *    `mlp.moe_statics.e_score_correction_bias` of shape [2, experts] (text row, vision row); and
 *    experts 0..E-1 (text) followed by E..2E-1 (vision, their own width).
 */
import type { VlModelConfig } from '../vl-model-types.js';
import { layerPrefix, textTensorSpecs, type TensorSpec } from './layout.js';

/** 'vector': a bias (LayerNorm or linear), zero-centred; the other roles as in layout.ts. */
export type VlTensorRole = TensorSpec['role'] | 'vector';
export interface VlTensorSpec extends Omit<TensorSpec, 'role'> {
  role: VlTensorRole;
}

const mat = (name: string, rows: number, cols: number, because: string): VlTensorSpec => ({
  name, shape: [rows, cols], role: 'matrix', fanIn: cols, because,
});
const vec = (name: string, n: number, role: 'norm' | 'vector', because: string): VlTensorSpec => ({ name, shape: [n], role, because });

function linear(prefix: string, out: number, inp: number, because: string): VlTensorSpec[] {
  return [mat(`${prefix}.weight`, out, inp, because), vec(`${prefix}.bias`, out, 'vector', `${because.split(',')[0]}]`)];
}

function layerNorm(prefix: string, n: number, because: string): VlTensorSpec[] {
  return [vec(`${prefix}.weight`, n, 'norm', because), vec(`${prefix}.bias`, n, 'vector', because)];
}

export function visionTensorSpecs(c: VlModelConfig): VlTensorSpec[] {
  const v = c.vision;
  const H = v.hiddenSize;
  const D = H * v.spatialMergeSize * v.spatialMergeSize;
  const specs: VlTensorSpec[] = [
    mat('vision_model.patch_embed.proj.weight', H, v.inChannels * v.patchSize * v.patchSize, '[vision hidden_size, in_channels*patch_size^2]'),
  ];
  for (let i = 0; i < v.depth; i++) {
    const p = `vision_model.blocks.${i}`;
    specs.push(
      ...layerNorm(`${p}.norm1`, H, '[vision hidden_size]'),
      ...linear(`${p}.attn.qkv`, 3 * H, H, '[3*vision hidden_size, vision hidden_size]'),
      ...linear(`${p}.attn.proj`, H, H, '[vision hidden_size, vision hidden_size]'),
      ...layerNorm(`${p}.norm2`, H, '[vision hidden_size]'),
      ...linear(`${p}.mlp.fc1`, v.intermediateSize, H, '[vision intermediate_size, vision hidden_size]'),
      ...linear(`${p}.mlp.fc2`, H, v.intermediateSize, '[vision hidden_size, vision intermediate_size]'),
    );
  }
  specs.push(...layerNorm('vision_model.ln', H, '[vision hidden_size]'));
  const r = 'model.resampler_model';
  const m = '4*vision hidden_size';
  specs.push(
    ...linear(`${r}.spatial_linear.0`, D, D, `[${m}, ${m}]`),
    ...linear(`${r}.spatial_linear.2`, D, D, `[${m}, ${m}]`),
    ...layerNorm(`${r}.spatial_linear.3`, D, `[${m}]`),
    ...linear(`${r}.temporal_linear.0`, D, 2 * D, `[${m}, 8*vision hidden_size]`),
    ...linear(`${r}.temporal_linear.2`, D, D, `[${m}, ${m}]`),
    ...layerNorm(`${r}.temporal_linear.3`, D, `[${m}]`),
    ...linear(`${r}.mlp`, c.text.hiddenSize, D, `[hidden_size, ${m}]`),
    vec(`${r}.after_norm.weight`, c.text.hiddenSize, 'norm', '[hidden_size]'),
  );
  return specs;
}

/** The decoder's tensors: ernie4_5_moe's, with the VL router / bias layout and the vision experts. */
export function vlTextTensorSpecs(c: VlModelConfig): VlTensorSpec[] {
  const t = c.text;
  const E = t.moe!.numExperts;
  const h = t.hiddenSize;
  const out: VlTensorSpec[] = [];
  for (const s of textTensorSpecs(t)) {
    if (s.name.endsWith('.mlp.gate.weight')) {
      const p = s.name.slice(0, -'.gate.weight'.length);
      // Real VL checkpoints keep both routers as [hidden, experts]; [experts, hidden] is accepted too.
      out.push(
        { name: `${p}.gate.weight`, shape: [h, E], altShapes: [[E, h]], role: 'gate', fanIn: h, because: '[hidden_size, moe_num_experts]' },
        { name: `${p}.gate.weight_1`, shape: [h, E], altShapes: [[E, h]], role: 'gate', fanIn: h, because: '[hidden_size, moe_num_experts]' },
      );
    } else if (s.name.endsWith('.moe_statics.e_score_correction_bias')) {
      out.push({ ...s, shape: [2, E], altShapes: undefined, because: '[2 (text, vision), moe_num_experts]' });
    } else {
      out.push(s);
    }
  }
  // Vision experts E..2E-1, after the layer's text experts in file order (placed per layer below).
  const withVision: VlTensorSpec[] = [];
  for (const s of out) {
    withVision.push(s);
    const m = /^model\.layers\.(\d+)\.mlp\.experts\.(\d+)\.down_proj\.weight$/.exec(s.name);
    if (m && Number(m[2]) === E - 1) withVision.push(...visionExpertSpecs(c, Number(m[1])));
  }
  return withVision;
}

function visionExpertSpecs(c: VlModelConfig, layer: number): VlTensorSpec[] {
  const t = c.text;
  const E = t.moe!.numExperts;
  const V = c.visionMoeIntermediateSize;
  const h = t.hiddenSize;
  const specs: VlTensorSpec[] = [];
  for (let e = E; e < 2 * E; e++) {
    const p = `${layerPrefix(layer)}.mlp.experts.${e}`;
    specs.push(
      mat(`${p}.gate_proj.weight`, V, h, '[moe_intermediate_size[1], hidden_size]'),
      mat(`${p}.up_proj.weight`, V, h, '[moe_intermediate_size[1], hidden_size]'),
      mat(`${p}.down_proj.weight`, h, V, '[hidden_size, moe_intermediate_size[1]]'),
    );
  }
  return specs;
}

/** Every tensor of the checkpoint: decoder first, then the vision encoder and resampler. */
export function vlTensorSpecs(c: VlModelConfig): VlTensorSpec[] {
  return [...vlTextTensorSpecs(c), ...visionTensorSpecs(c)];
}

export function countVlParameters(c: VlModelConfig): number {
  return vlTensorSpecs(c).reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0);
}
