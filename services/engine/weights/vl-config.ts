/**
 * config.json of an ERNIE-4.5-VL MoE checkpoint (`model_type: "ernie4_5_vl_moe"`, the transformers
 * layout with `text_config` and `vision_config`) → VlModelConfig. The text part is checked by the
 * text parser (as an ernie4_5_moe config), so the same keys get the same errors.
 */
import type { VisionConfig, VlModelConfig } from '../vl-model-types.js';
import { parseTextModelConfig } from './config.js';
import { CheckpointError } from './errors.js';

type Raw = Record<string, unknown>;

const bad = (key: string, msg: string) => new CheckpointError('bad_config', `config.json: ${key} ${msg}`);

function obj(raw: Raw, key: string): Raw {
  const v = raw[key];
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(key, 'must be an object');
  return v as Raw;
}

function int(raw: Raw, key: string, where: string, def?: number, min = 1): number {
  const v = raw[key] ?? def;
  if (v === undefined) throw bad(`${where}${key}`, 'is required');
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw bad(`${where}${key}`, `must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  return v;
}

function num(raw: Raw, key: string, where: string, def: number): number {
  const v = raw[key] ?? def;
  if (typeof v !== 'number' || !(v > 0)) throw bad(`${where}${key}`, `must be a positive number, got ${JSON.stringify(v)}`);
  return v;
}

/** `mlp_layer_types` ("dense" | "sparse" per layer) as the text parser's start/end/interval keys. */
function moeLayerRange(types: unknown, layers: number): { moe_layer_start_index: number; moe_layer_end_index: number } {
  if (!Array.isArray(types) || types.length !== layers || types.some((t) => t !== 'dense' && t !== 'sparse')) {
    throw bad('text_config.mlp_layer_types', `must list "dense" or "sparse" for each of the ${layers} layers`);
  }
  const first = types.indexOf('sparse');
  const last = types.lastIndexOf('sparse');
  if (first < 0) throw bad('text_config.mlp_layer_types', 'has no sparse (MoE) layer');
  for (let i = first; i <= last; i++) {
    if (types[i] !== 'sparse') throw bad('text_config.mlp_layer_types', 'must be one contiguous run of sparse layers');
  }
  return { moe_layer_start_index: first, moe_layer_end_index: last };
}

function parseVision(v: Raw): VisionConfig {
  const w = 'vision_config.';
  if (v.hidden_act !== undefined && v.hidden_act !== 'quick_gelu') throw bad(`${w}hidden_act`, `${JSON.stringify(v.hidden_act)} is not supported (ERNIE-VL uses "quick_gelu")`);
  const hiddenSize = int(v, 'hidden_size', w);
  const numHeads = int(v, 'num_heads', w);
  if (hiddenSize % numHeads !== 0 || (hiddenSize / numHeads) % 4 !== 0) {
    throw bad(`${w}num_heads`, `(${numHeads}) must divide hidden_size (${hiddenSize}) into heads of a multiple of 4`);
  }
  const temporalMergeSize = int(v, 'temporal_merge_size', w, 2);
  if (temporalMergeSize !== 2) throw bad(`${w}temporal_merge_size`, 'must be 2 (the frame-pair merge of the reference model)');
  return {
    depth: int(v, 'depth', w),
    hiddenSize,
    intermediateSize: int(v, 'intermediate_size', w, 4 * hiddenSize),
    numHeads,
    headDim: hiddenSize / numHeads,
    patchSize: int(v, 'patch_size', w, 14),
    inChannels: int(v, 'in_channels', w, 3),
    spatialMergeSize: int(v, 'spatial_merge_size', w, 2),
    temporalMergeSize,
    layerNormEps: num(v, 'rms_norm_eps', w, 1e-6),
    ropeTheta: 10000,
  };
}

export function parseVlModelConfig(raw: unknown): VlModelConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new CheckpointError('bad_config', 'config.json is not a JSON object');
  const c = raw as Raw;
  if (c.model_type !== 'ernie4_5_vl_moe') throw bad('model_type', `${JSON.stringify(c.model_type)} is not "ernie4_5_vl_moe"`);
  const t = obj(c, 'text_config');
  const layers = int(t, 'num_hidden_layers', 'text_config.');
  const rope = (t.rope_parameters ?? {}) as Raw;
  if (rope.rope_type !== undefined && rope.rope_type !== 'default') throw bad('text_config.rope_parameters.rope_type', 'must be "default"');
  const inter = t.moe_intermediate_size;
  if (!Array.isArray(inter) || inter.length !== 2) throw bad('text_config.moe_intermediate_size', 'must be [text, vision] widths');
  const visionMoeIntermediateSize = int({ v: inter[1] }, 'v', 'text_config.moe_intermediate_size[1]');
  // The text parser reads the list keys' text entries (moe_intermediate_size[0]).
  const text = parseTextModelConfig({
    ...t,
    model_type: 'ernie4_5_moe',
    rope_theta: rope.rope_theta ?? t.rope_theta,
    rope_parameters: undefined,
    ...moeLayerRange(t.mlp_layer_types, layers),
    moe_layer_interval: 1,
  });
  const half = text.headDim / 2;
  const section = rope.mrope_section ?? [22, 22, 20]; // the 28B-A3B split when the key is absent
  if (!Array.isArray(section) || section.length !== 3 || section.some((x) => !Number.isSafeInteger(x) || x < 0)) {
    throw bad('text_config.rope_parameters.mrope_section', 'must be three non-negative integers [h, w, t]');
  }
  const [h, w, tp] = section as [number, number, number];
  if (h !== w || h + w + tp !== half) {
    throw bad('text_config.rope_parameters.mrope_section', `must be [n, n, t] with 2n + t = head_dim / 2 (${half}), got ${JSON.stringify(section)}`);
  }
  const vocab = text.vocabSize;
  const tokenId = (key: string, def: number) => int(c, key, '', def, 0);
  const config: VlModelConfig = {
    modelType: 'ernie4_5_vl_moe',
    text,
    visionMoeIntermediateSize,
    ropeTPairs: tp,
    vision: parseVision(obj(c, 'vision_config')),
    imageTokenId: tokenId('image_token_id', 100295),
    imageStartTokenId: tokenId('image_start_token_id', 101304),
    imageEndTokenId: tokenId('image_end_token_id', 101305),
    videoTokenId: tokenId('video_token_id', 103367),
    videoStartTokenId: tokenId('video_start_token_id', 101306),
    videoEndTokenId: tokenId('video_end_token_id', 101307),
  };
  for (const k of ['imageTokenId', 'imageStartTokenId', 'imageEndTokenId'] as const) {
    if (config[k] >= vocab) throw bad(k, `(${config[k]}) is outside the vocabulary (${vocab})`);
  }
  return config;
}
