/**
 * Generates an ERNIE-4.5 checkpoint with random weights in the exact Hugging Face layout:
 * config.json, generation_config.json, safetensors (sharded with an index when large) and a
 * tokenizer. Weights are a pure function of (seed, tensor name): the same seed gives the same
 * bytes. Tensors are produced one at a time, so memory stays at about one tensor.
 */
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TextFamily, TextModelConfig } from '../../services/engine/model-types.js';
import type { VlFamily } from '../../services/engine/vl-model-types.js';
import { parseTextModelConfig } from '../../services/engine/weights/config.js';
import { CheckpointError } from '../../services/engine/weights/errors.js';
import { countParameters, matrixQuantization, storedTensorSpecs, textTensorSpecs, type TensorSpec } from '../../services/engine/weights/layout.js';
import { native } from '../../kernels/ts/index.js';
import { isRotatedMatrix, quantGroup, quantHeadBits, quantizationBits, quantRotation, quantZeroPoints } from '../../services/protocol/quantization.js';
import { writeCheckpointShards, type TensorSource } from '../../services/engine/weights/safetensors-writer.js';
import { DEFAULT_MAX_SHARD_BYTES, genGenerationConfig, genModelConfig, type GenSize } from './presets.js';
import { bf16Normal, f32Normal, initStd } from './random.js';
import { generateVlCheckpoint } from './gen-vl-model.js';
import { generateTokenizer } from '../tokenizer/generate-tokenizer.js';

export interface GenerateCheckpointOptions {
  family: TextFamily | VlFamily;
  size: GenSize;
  outDir: string;
  /** Non-negative integer; default 0. */
  seed?: number;
  /** Called as tensor data is written (cumulative bytes, total bytes). */
  onProgress?: (doneBytes: number, totalBytes: number) => void;
  /** Override the size's default shard limit (bytes of tensor data per file). */
  maxShardBytes?: number;
  /** Also write a tokenizer (default true). */
  tokenizer?: boolean;
  /** Write the linear layers pre-quantized (docs/quantization.md) instead of bf16. */
  quantization?: 'wint8' | 'wint4';
  /**
   * Multiplies the standard deviation of every weight matrix (default 1). At 1 a random model
   * settles on one token forever; about 4 gives varied greedy text, which quality comparisons
   * (tandem bench quality) need.
   */
  weightScale?: number;
}

export interface GeneratedCheckpoint {
  outDir: string;
  /** For ernie4_5_vl_moe: the decoder's config (the whole VL config is in hfConfig). */
  config: TextModelConfig;
  /** The config.json written. */
  hfConfig: Record<string, unknown>;
  /** Safetensors files written (relative to outDir). */
  files: string[];
  /** Bytes of tensor data. */
  totalBytes: number;
  paramCount: number;
}


/** Norm weights: 1 plus this much noise, so a kernel that ignores the weight is caught. */
const NORM_NOISE_STD = 0.05;

/** The tensors of a generated checkpoint, each produced on demand. */
export function generatedTensorSources(config: TextModelConfig, seed: number, weightScale = 1): TensorSource[] {
  const q = config.quantization;
  if (!q) return textTensorSpecs(config).map((s) => source(s, seed, config, weightScale));
  // Pre-quantized: every matrix is generated in bf16 exactly as the bf16 checkpoint's, then
  // quantized by the kernels' own quantizer (so it equals quantizing that checkpoint at load).
  // Codes are written first; each matrix's scales wait here until their turn.
  const pendingScales = new Map<string, Float32Array>();
  const pendingZeros = new Map<string, Uint8Array>();
  const quantize = (s: TensorSpec) => {
    const m = s.of!;
    const [rows, cols] = m.shape as [number, number];
    // A tied head is the embedding table itself.
    const from = m.name === 'lm_head.weight' && config.tieWordEmbeddings ? 'model.embed_tokens.weight' : m.name;
    const bf16 = matrixValues(seed, from, rows * cols, m.fanIn!, weightScale);
    const mq = matrixQuantization(q, m.name);
    return native.quantizeWeights(bf16, rows, cols, mq.bits, mq.group, isRotatedMatrix(q.rotation, m.name), mq.zeroPoints);
  };
  const bytes = (a: Uint8Array | Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  return storedTensorSpecs(config).map((s): TensorSource => {
    if (s.role === 'qweight') {
      return {
        name: s.name,
        dtype: 'U8',
        shape: s.shape,
        produce: () => {
          const r = quantize(s);
          pendingScales.set(s.of!.name, r.scales);
          if (r.zeros) pendingZeros.set(s.of!.name, r.zeros);
          return r.data;
        },
      };
    }
    if (s.role === 'scales') {
      return {
        name: s.name,
        dtype: 'F32',
        shape: s.shape,
        produce: () => {
          const scales = pendingScales.get(s.of!.name) ?? quantize(s).scales;
          pendingScales.delete(s.of!.name);
          return bytes(scales);
        },
      };
    }
    if (s.role === 'zeros') {
      return {
        name: s.name,
        dtype: 'U8',
        shape: s.shape,
        produce: () => {
          const zeros = pendingZeros.get(s.of!.name) ?? quantize(s).zeros!;
          pendingZeros.delete(s.of!.name);
          return zeros;
        },
      };
    }
    return source(s, seed, config, weightScale);
  });
}

/** A weight matrix's bf16 values: a pure function of (seed, name), scaled to its fan-in. */
function matrixValues(seed: number, name: string, count: number, fanIn: number, weightScale: number): Uint16Array {
  return bf16Normal(seed, name, count, 0, initStd(fanIn) * weightScale);
}

function source(s: TensorSpec, seed: number, config: TextModelConfig, weightScale: number): TensorSource {
  const count = s.shape.reduce((a, b) => a * b, 1);
  const bytes = (a: Uint16Array | Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  switch (s.role) {
    case 'matrix':
      return { name: s.name, dtype: 'BF16', shape: s.shape, produce: () => bytes(matrixValues(seed, s.name, count, s.fanIn!, weightScale)) };
    case 'norm':
      return { name: s.name, dtype: 'BF16', shape: s.shape, produce: () => bytes(bf16Normal(seed, s.name, count, 1, NORM_NOISE_STD)) };
    case 'gate':
      return { name: s.name, dtype: 'F32', shape: s.shape, produce: () => bytes(f32Normal(seed, s.name, count, 0, initStd(s.fanIn!))) };
    case 'bias': {
      // Comparable to the spread of the routing probabilities (~1/E), so it changes which experts win.
      const std = 0.5 / config.moe!.numExperts;
      return { name: s.name, dtype: 'F32', shape: s.shape, produce: () => bytes(f32Normal(seed, s.name, count, 0, std)) };
    }
    default:
      throw new Error(`gen-model: ${s.name} (${s.role}) is produced by generatedTensorSources`);
  }
}

/** config.json quantization_config of a pre-quantized checkpoint (the serving defaults). */
export function quantizationConfig(scheme: 'wint8' | 'wint4'): Record<string, unknown> {
  return {
    quant_method: 'tandem', scheme, bits: quantizationBits(scheme), group_size: quantGroup(scheme), lm_head: true, lm_head_bits: quantHeadBits(scheme),
    zero_points: quantZeroPoints(scheme), rotation: quantRotation(scheme), format_version: 3,
  };
}

async function writeJson(path: string, value: unknown): Promise<void> {
  await writeFile(`${path}.tmp`, JSON.stringify(value, null, 2) + '\n');
  await rename(`${path}.tmp`, path);
}

export async function generateCheckpoint(opts: GenerateCheckpointOptions): Promise<GeneratedCheckpoint> {
  if (opts.family === 'ernie4_5_vl_moe') {
    if (opts.size !== 'tiny' && opts.size !== 'small') {
      throw new CheckpointError('bad_argument', `no generated size '${opts.size}' for family 'ernie4_5_vl_moe' (available — tiny, small)`);
    }
    const r = await generateVlCheckpoint({ ...opts, size: opts.size });
    return { ...r, config: r.config.text };
  }
  const family: TextFamily = opts.family;
  const seed = opts.seed ?? 0;
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new CheckpointError('bad_argument', `seed must be a non-negative integer, got ${seed}`);
  }
  const weightScale = opts.weightScale ?? 1;
  if (!(weightScale > 0) || !Number.isFinite(weightScale)) {
    throw new CheckpointError('bad_argument', `weight scale must be a positive number, got ${weightScale}`);
  }
  const hfConfig: Record<string, unknown> = {
    ...genModelConfig(family, opts.size),
    tandem_generated: { family, size: opts.size, seed, ...(weightScale !== 1 ? { weightScale } : {}) },
    ...(opts.quantization ? { quantization_config: quantizationConfig(opts.quantization) } : {}),
  };
  const config = parseTextModelConfig(hfConfig);
  await mkdir(opts.outDir, { recursive: true });
  // Until the new config.json lands, the directory must not look like a complete checkpoint.
  await rm(join(opts.outDir, 'config.json'), { force: true });

  const written = await writeCheckpointShards(opts.outDir, generatedTensorSources(config, seed, weightScale), {
    maxShardBytes: opts.maxShardBytes ?? DEFAULT_MAX_SHARD_BYTES[opts.size],
    onProgress: opts.onProgress,
  });
  await writeJson(join(opts.outDir, 'generation_config.json'), genGenerationConfig());
  if (opts.tokenizer ?? true) {
    const tok = await generateTokenizer(opts.outDir, { vocabSize: config.vocabSize, seed });
    const ids = { bos_token_id: tok.bosId, eos_token_id: tok.eosId, pad_token_id: tok.padId };
    for (const [key, id] of Object.entries(ids)) {
      if (hfConfig[key] !== id) {
        throw new CheckpointError('bad_argument', `generated tokenizer has ${key} ${id}, but config.json says ${String(hfConfig[key])}`);
      }
    }
  }
  // config.json last: its presence marks a complete checkpoint.
  await writeJson(join(opts.outDir, 'config.json'), hfConfig);
  return {
    outDir: opts.outDir,
    config,
    hfConfig,
    files: written.files,
    totalBytes: written.totalBytes,
    paramCount: countParameters(config),
  };
}
