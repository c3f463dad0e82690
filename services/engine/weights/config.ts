/**
 * config.json → TextModelConfig, with every key type- and range-checked. Errors are
 * CheckpointError 'bad_config' naming the offending key.
 */
import type { MoeConfig, StoredQuantization, TextFamily, TextModelConfig } from '../model-types.js';
import { CheckpointError } from './errors.js';

export const SUPPORTED_TEXT_MODEL_TYPES: readonly TextFamily[] = ['ernie4_5', 'ernie4_5_moe'];

type Raw = Record<string, unknown>;

function bad(key: string, msg: string): CheckpointError {
  return new CheckpointError('bad_config', `config.json: ${key} ${msg}`);
}

function show(v: unknown): string {
  return v === undefined ? 'missing' : JSON.stringify(v);
}

function int(raw: Raw, key: string, opts: { min?: number; max?: number; def?: number } = {}): number {
  let v = raw[key];
  if (v === undefined || v === null) {
    if (opts.def !== undefined) return opts.def;
    throw bad(key, 'is required');
  }
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw bad(key, `must be an integer, got ${show(v)}`);
  const min = opts.min ?? 1;
  if (v < min) throw bad(key, `must be >= ${min}, got ${v}`);
  if (opts.max !== undefined && v > opts.max) throw bad(key, `must be <= ${opts.max}, got ${v}`);
  return v;
}

/** Like `int`, but accepts a one-value-per-modality list (original ERNIE configs) and takes the text entry. */
function intOrTextEntry(raw: Raw, key: string, opts: { min?: number; max?: number; def?: number } = {}): number {
  const v = raw[key];
  if (Array.isArray(v)) {
    if (v.length === 0) throw bad(key, 'is an empty list');
    return int({ [key]: v[0] }, key, opts);
  }
  return int(raw, key, opts);
}

function num(raw: Raw, key: string, opts: { positive?: boolean; def?: number } = {}): number {
  const v = raw[key];
  if (v === undefined || v === null) {
    if (opts.def !== undefined) return opts.def;
    throw bad(key, 'is required');
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(key, `must be a finite number, got ${show(v)}`);
  if (opts.positive && !(v > 0)) throw bad(key, `must be > 0, got ${v}`);
  return v;
}

function bool(raw: Raw, key: string, def: boolean): boolean {
  const v = raw[key];
  if (v === undefined || v === null) return def;
  if (typeof v !== 'boolean') throw bad(key, `must be true or false, got ${show(v)}`);
  return v;
}

function tokenId(raw: Raw, key: string, def: number, vocab: number): number {
  return int(raw, key, { min: 0, max: vocab - 1, def });
}

export function parseTextModelConfig(raw: unknown): TextModelConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new CheckpointError('bad_config', 'config.json is not a JSON object');
  }
  const c = raw as Raw;
  const modelType = c.model_type;
  if (typeof modelType !== 'string' || !(SUPPORTED_TEXT_MODEL_TYPES as readonly string[]).includes(modelType)) {
    throw bad(
      'model_type',
      `${show(modelType)} is not supported; supported text model types: ${SUPPORTED_TEXT_MODEL_TYPES.join(', ')}`,
    );
  }
  const family = modelType as TextFamily;

  const useBias = bool(c, 'use_bias', false);
  if (useBias) throw bad('use_bias', 'is true: bias tensors in attention/MLP are not supported by this engine');

  if (c.hidden_act !== undefined && c.hidden_act !== null && c.hidden_act !== 'silu') {
    throw bad('hidden_act', `${show(c.hidden_act)} is not supported (ERNIE-4.5 uses "silu")`);
  }
  if (c.rope_scaling !== undefined && c.rope_scaling !== null) {
    throw bad('rope_scaling', `${show(c.rope_scaling)} is not supported (only plain RoPE)`);
  }

  const hiddenSize = int(c, 'hidden_size');
  const intermediateSize = int(c, 'intermediate_size');
  const numLayers = int(c, 'num_hidden_layers');
  const numHeads = int(c, 'num_attention_heads');
  const numKvHeads = int(c, 'num_key_value_heads', { def: numHeads, max: numHeads });
  if (numHeads % numKvHeads !== 0) {
    throw bad('num_key_value_heads', `(${numKvHeads}) must divide num_attention_heads (${numHeads})`);
  }
  let headDim: number;
  if (c.head_dim === undefined || c.head_dim === null) {
    if (hiddenSize % numHeads !== 0) {
      throw bad('head_dim', `is absent and hidden_size (${hiddenSize}) is not divisible by num_attention_heads (${numHeads})`);
    }
    headDim = hiddenSize / numHeads;
  } else {
    headDim = int(c, 'head_dim');
  }
  if (headDim % 2 !== 0) throw bad('head_dim', `must be even for rotary embeddings, got ${headDim}`);
  const vocabSize = int(c, 'vocab_size');
  const maxPositionEmbeddings = int(c, 'max_position_embeddings');
  const ropeTheta = num(c, 'rope_theta', { positive: true, def: 10000 });
  const rmsNormEps = num(c, 'rms_norm_eps', { positive: true, def: 1e-6 });
  const tieWordEmbeddings = bool(c, 'tie_word_embeddings', true);

  let eosTokenId: number | number[];
  if (Array.isArray(c.eos_token_id)) {
    if (c.eos_token_id.length === 0) throw bad('eos_token_id', 'is an empty list');
    eosTokenId = c.eos_token_id.map((v: unknown, i) => tokenId({ [`eos_token_id[${i}]`]: v }, `eos_token_id[${i}]`, 2, vocabSize));
  } else {
    eosTokenId = tokenId(c, 'eos_token_id', 2, vocabSize);
  }

  const config: TextModelConfig = {
    modelType: family,
    hiddenSize,
    intermediateSize,
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    vocabSize,
    maxPositionEmbeddings,
    ropeTheta,
    rmsNormEps,
    tieWordEmbeddings,
    useBias,
    bosTokenId: tokenId(c, 'bos_token_id', 1, vocabSize),
    eosTokenId,
    padTokenId: tokenId(c, 'pad_token_id', 0, vocabSize),
  };
  if (family === 'ernie4_5_moe') config.moe = parseMoe(c, numLayers);
  if (c.quantization_config !== undefined && c.quantization_config !== null) config.quantization = parseQuantization(c.quantization_config);
  return config;
}

/** The quantization_config Tandem writes; anything else (GPTQ, AWQ, ...) is refused by name. */
function parseQuantization(raw: unknown): StoredQuantization {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad('quantization_config', 'must be an object');
  const q = raw as Raw;
  if (q.quant_method !== 'tandem') {
    throw bad('quantization_config.quant_method', `${show(q.quant_method)} is not supported (only pre-quantized checkpoints written by Tandem, quant_method "tandem")`);
  }
  const scheme = q.scheme;
  if (scheme !== 'wint8' && scheme !== 'wint4') throw bad('quantization_config.scheme', `must be "wint8" or "wint4", got ${show(scheme)}`);
  const bits = scheme === 'wint8' ? 8 : 4;
  if (q.bits !== bits) throw bad('quantization_config.bits', `must be ${bits} for ${scheme}, got ${show(q.bits)}`);
  const group = int(q, 'group_size', { min: 0 });
  if (group % 128 !== 0 && !(bits === 4 && (group === 32 || group === 64))) {
    throw bad('quantization_config.group_size', `must be 0 (per channel), a multiple of 128, or (wint4) 32 or 64, got ${group}`);
  }
  const rotation = q.rotation ?? 'none';
  if (rotation !== 'none' && rotation !== 'down-hadamard128') throw bad('quantization_config.rotation', `must be "none" or "down-hadamard128", got ${show(rotation)}`);
  const formatVersion = q.format_version ?? 1;
  if (formatVersion !== 1 && formatVersion !== 2 && formatVersion !== 3) {
    throw bad('quantization_config.format_version', `must be 1, 2 or 3, got ${show(formatVersion)} (a checkpoint written by a newer Tandem: serve it with that version, or quantize its bf16 checkpoint at load)`);
  }
  const headBits = q.lm_head_bits ?? bits;
  if (headBits !== 8 && headBits !== 4) throw bad('quantization_config.lm_head_bits', `must be 8 or 4, got ${show(headBits)}`);
  if (headBits < bits) throw bad('quantization_config.lm_head_bits', `must not be below bits (${bits}), got ${headBits}`);
  const zeroPoints = bool(q, 'zero_points', false);
  if (zeroPoints && bits !== 4) throw bad('quantization_config.zero_points', `is for wint4 only, not ${scheme}`);
  if (zeroPoints && group === 32 && formatVersion < 3) {
    // Format 2 stored these row-major; since format 3 they are in panels of 16 rows (docs/quantization.md).
    throw bad(
      'quantization_config.format_version',
      `is ${formatVersion}: this checkpoint's wint4 codes (groups of 32 with zero points) are in the row-major layout of an older Tandem, and this one reads them in panels (format_version 3); write it again with \`tandem gen-model --quantization wint4\`, or serve the bf16 checkpoint with --quantization wint4`,
    );
  }
  return { scheme, bits, group, lmHead: bool(q, 'lm_head', true), rotation, headBits, formatVersion, zeroPoints };
}

function parseMoe(c: Raw, numLayers: number): MoeConfig {
  const numExperts = intOrTextEntry(c, 'moe_num_experts');
  const topK = int(c, 'moe_k', { max: numExperts });
  const intermediateSize = intOrTextEntry(c, 'moe_intermediate_size');
  const numSharedExperts = int(c, 'moe_num_shared_experts', { min: 0, def: 0 });
  const layerStartIndex = intOrTextEntry(c, 'moe_layer_start_index', { min: 0, max: numLayers - 1, def: 0 });
  let layerEndIndex: number;
  const rawEnd = Array.isArray(c.moe_layer_end_index) ? c.moe_layer_end_index[0] : c.moe_layer_end_index;
  if (rawEnd === -1) {
    layerEndIndex = numLayers - 1; // -1 means "through the last layer" in original ERNIE configs
  } else {
    layerEndIndex = intOrTextEntry(c, 'moe_layer_end_index', { min: 0, max: numLayers - 1, def: numLayers - 1 });
  }
  if (layerEndIndex < layerStartIndex) {
    throw bad('moe_layer_end_index', `(${layerEndIndex}) is before moe_layer_start_index (${layerStartIndex})`);
  }
  const layerInterval = int(c, 'moe_layer_interval', { def: 1 });
  const normMin = num(c, 'moe_norm_min', { positive: true, def: 1e-12 });
  return { numExperts, topK, intermediateSize, numSharedExperts, layerStartIndex, layerEndIndex, layerInterval, normMin };
}
