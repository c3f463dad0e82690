/**
 * Loads an ERNIE-4.5-VL MoE checkpoint (config.json + safetensors, real tensor names, see
 * vl-layout.ts) into VlModelWeights. Every expected tensor must be present with the shape
 * config.json implies; matrices become bf16 (zero-copy for bf16 files), the rest fp32.
 */
import type { Bf16Matrix, LayerWeights, MoeMlpWeights, TextModelWeights } from '../model-types.js';
import { isMoeLayer } from '../model-types.js';
import type { ResamplerStageWeights, VisionBlockWeights, VisionExpertWeights, VlModelConfig, VlModelWeights } from '../vl-model-types.js';
import { openCheckpoint, type Checkpoint } from './checkpoint.js';
import { isSilentlyIgnoredTensor, layerPrefix, type TensorSpec } from './layout.js';
import { checkPresenceAndShapes, decoderLayer, decoderWeights, loadTensorsByFile, toBf16Matrix, toF32Vector } from './load-text-weights.js';
import { parseVlModelConfig } from './vl-config.js';
import { vlTensorSpecs, type VlTensorSpec } from './vl-layout.js';

export interface VlLoadReport {
  weights: VlModelWeights;
  unusedTensors: string[];
}

export async function loadVlModelWeights(dir: string, opts: { onWarning?: (m: string) => void } = {}): Promise<VlModelWeights> {
  const ckpt = openCheckpoint(dir);
  const report = readVlModelWeights(ckpt);
  if (report.unusedTensors.length > 0) {
    const warn = opts.onWarning ?? ((m: string) => process.emitWarning(m, { code: 'TANDEM_CHECKPOINT' }));
    warn(`${dir}: ignoring ${report.unusedTensors.length} tensor(s) the ernie4_5_vl_moe model does not use: ${report.unusedTensors.slice(0, 20).join(', ')}`);
  }
  return report.weights;
}

/** [rows, cols] fp32 stored as [cols, rows] → [rows, cols]. */
function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r * cols + c] = a[c * rows + r]!;
  return out;
}

export function readVlModelWeights(ckpt: Checkpoint, config: VlModelConfig = parseVlModelConfig(ckpt.config)): VlLoadReport {
  const specs = vlTensorSpecs(config);
  checkPresenceAndShapes(ckpt, specs as unknown as TensorSpec[]);
  const expected = new Set(specs.map((s) => s.name));
  const unused = ckpt.tensorNames().filter((n) => !expected.has(n) && !isSilentlyIgnoredTensor(n) && n !== 'lm_head.weight');

  const t = config.text;
  const E = t.moe!.numExperts;
  const h = t.hiddenSize;
  const loaded = loadTensorsByFile(ckpt, specs, (tb, s: VlTensorSpec) => {
    const spec = s as unknown as TensorSpec;
    const v: Bf16Matrix | Float32Array = s.role === 'matrix' ? toBf16Matrix(tb, spec) : toF32Vector(tb, spec);
    // Routers are used as [experts, hidden]; the published VL files hold them transposed.
    return s.role === 'gate' && ckpt.info(s.name)!.shape[0] === h ? transpose(v as Float32Array, E, h) : v;
  });
  const mat = (n: string) => loaded.get(n) as Bf16Matrix;
  const vec = (n: string) => loaded.get(n) as Float32Array;
  const mlp = (p: string) => ({ gateProj: mat(`${p}.gate_proj.weight`), upProj: mat(`${p}.up_proj.weight`), downProj: mat(`${p}.down_proj.weight`) });

  const layers: LayerWeights[] = [];
  const visionExperts: Array<VisionExpertWeights | undefined> = [];
  for (let i = 0; i < t.numLayers; i++) {
    const p = layerPrefix(i);
    let layerMlp: LayerWeights['mlp'];
    if (isMoeLayer(t, i)) {
      const bias = vec(`${p}.mlp.moe_statics.e_score_correction_bias`);
      const moe: MoeMlpWeights = {
        kind: 'moe',
        gate: vec(`${p}.mlp.gate.weight`),
        correctionBias: bias.slice(0, E),
        experts: Array.from({ length: E }, (_, e) => mlp(`${p}.mlp.experts.${e}`)),
      };
      if (t.moe!.numSharedExperts > 0) moe.shared = mlp(`${p}.mlp.shared_experts`);
      layerMlp = moe;
      visionExperts.push({
        gate: vec(`${p}.mlp.gate.weight_1`),
        correctionBias: bias.slice(E, 2 * E),
        experts: Array.from({ length: E }, (_, e) => mlp(`${p}.mlp.experts.${E + e}`)),
      });
    } else {
      layerMlp = { kind: 'dense', ...mlp(`${p}.mlp`) };
      visionExperts.push(undefined);
    }
    layers.push(decoderLayer(p, layerMlp, mat, vec));
  }
  const text: TextModelWeights = decoderWeights(t, layers, mat, vec);

  const blocks: VisionBlockWeights[] = Array.from({ length: config.vision.depth }, (_, i) => {
    const p = `vision_model.blocks.${i}`;
    return {
      norm1Weight: vec(`${p}.norm1.weight`),
      norm1Bias: vec(`${p}.norm1.bias`),
      qkv: mat(`${p}.attn.qkv.weight`),
      qkvBias: vec(`${p}.attn.qkv.bias`),
      proj: mat(`${p}.attn.proj.weight`),
      projBias: vec(`${p}.attn.proj.bias`),
      norm2Weight: vec(`${p}.norm2.weight`),
      norm2Bias: vec(`${p}.norm2.bias`),
      fc1: mat(`${p}.mlp.fc1.weight`),
      fc1Bias: vec(`${p}.mlp.fc1.bias`),
      fc2: mat(`${p}.mlp.fc2.weight`),
      fc2Bias: vec(`${p}.mlp.fc2.bias`),
    };
  });
  const r = 'model.resampler_model';
  const stage = (p: string): ResamplerStageWeights => ({
    fc1: mat(`${p}.0.weight`),
    fc1Bias: vec(`${p}.0.bias`),
    fc2: mat(`${p}.2.weight`),
    fc2Bias: vec(`${p}.2.bias`),
    lnWeight: vec(`${p}.3.weight`),
    lnBias: vec(`${p}.3.bias`),
  });
  return {
    weights: {
      config,
      text,
      visionExperts,
      vision: {
        patchEmbed: mat('vision_model.patch_embed.proj.weight'),
        blocks,
        lnWeight: vec('vision_model.ln.weight'),
        lnBias: vec('vision_model.ln.bias'),
        resampler: {
          spatial: stage(`${r}.spatial_linear`),
          temporal: stage(`${r}.temporal_linear`),
          mlp: mat(`${r}.mlp.weight`),
          mlpBias: vec(`${r}.mlp.bias`),
          afterNorm: vec(`${r}.after_norm.weight`),
        },
      },
    },
    unusedTensors: unused,
  };
}
