/**
 * Generates an ERNIE-4.5-VL MoE checkpoint with seeded random weights under the real tensor names
 * (vl-layout.ts), a config.json in the transformers layout and the generated tokenizer, whose
 * `<|IMAGE_PLACEHOLDER|>` / `<|IMAGE_START|>` / `<|IMAGE_END|>` ids go into config.json. Weights are
 * a pure function of (seed, tensor name), as for the text families.
 */
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { VlModelConfig } from '../../services/engine/vl-model-types.js';
import { CheckpointError } from '../../services/engine/weights/errors.js';
import { writeCheckpointShards, type TensorSource } from '../../services/engine/weights/safetensors-writer.js';
import { parseVlModelConfig } from '../../services/engine/weights/vl-config.js';
import { countVlParameters, vlTensorSpecs, type VlTensorSpec } from '../../services/engine/weights/vl-layout.js';
import { genGenerationConfig } from './presets.js';
import { bf16Normal, f32Normal, initStd } from './random.js';
import { generateTokenizer } from '../tokenizer/generate-tokenizer.js';
import { ERNIE_SPECIAL_TOKENS } from '../tokenizer/generated-vocab.js';
import { genVlModelConfig, type VlGenSize, type VlTokenIds } from './vl-presets.js';

export interface GenerateVlCheckpointOptions {
  size: VlGenSize;
  outDir: string;
  seed?: number;
  onProgress?: (doneBytes: number, totalBytes: number) => void;
  maxShardBytes?: number;
  tokenizer?: boolean;
}

export interface GeneratedVlCheckpoint {
  outDir: string;
  config: VlModelConfig;
  hfConfig: Record<string, unknown>;
  files: string[];
  totalBytes: number;
  paramCount: number;
}

const NORM_NOISE_STD = 0.05;
/** Linear and LayerNorm biases: small but not negligible, so a kernel that drops one is caught. */
const BIAS_STD = 0.02;

export function generatedVlTensorSources(config: VlModelConfig, seed: number): TensorSource[] {
  return vlTensorSpecs(config).map((s) => source(s, seed, config));
}

function source(s: VlTensorSpec, seed: number, config: VlModelConfig): TensorSource {
  const count = s.shape.reduce((a, b) => a * b, 1);
  const bytes = (a: Uint16Array | Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const bf16 = (mean: number, std: number): TensorSource => ({ name: s.name, dtype: 'BF16', shape: s.shape, produce: () => bytes(bf16Normal(seed, s.name, count, mean, std)) });
  const f32 = (std: number): TensorSource => ({ name: s.name, dtype: 'F32', shape: s.shape, produce: () => bytes(f32Normal(seed, s.name, count, 0, std)) });
  switch (s.role) {
    case 'matrix':
      return bf16(0, initStd(s.fanIn!));
    case 'norm':
      return bf16(1, NORM_NOISE_STD);
    case 'vector':
      return bf16(0, BIAS_STD);
    case 'gate':
      return f32(initStd(s.fanIn!));
    case 'bias':
      return f32(0.5 / config.text.moe!.numExperts);
    default:
      throw new Error(`gen-vl-model: no generator for ${s.role} tensors (pre-quantized VL checkpoints are not generated)`);
  }
}

/** The ids of the image/video pieces in the generated vocabulary (its fixed special-token block). */
async function generatedTokenIds(): Promise<VlTokenIds> {
  const id = (content: string) => {
    const i = ERNIE_SPECIAL_TOKENS.findIndex((s) => s.content === content);
    if (i < 0) throw new CheckpointError('bad_argument', `the generated vocabulary has no ${content}`);
    return i;
  };
  return {
    image: id('<|IMAGE_PLACEHOLDER|>'),
    imageStart: id('<|IMAGE_START|>'),
    imageEnd: id('<|IMAGE_END|>'),
    video: id('<|VIDEO_PLACEHOLDER|>'),
    videoStart: id('<|VIDEO_START|>'),
    videoEnd: id('<|VIDEO_END|>'),
  };
}

async function writeJson(path: string, value: unknown): Promise<void> {
  await writeFile(`${path}.tmp`, JSON.stringify(value, null, 2) + '\n');
  await rename(`${path}.tmp`, path);
}

export async function generateVlCheckpoint(opts: GenerateVlCheckpointOptions): Promise<GeneratedVlCheckpoint> {
  const seed = opts.seed ?? 0;
  if (!Number.isSafeInteger(seed) || seed < 0) throw new CheckpointError('bad_argument', `seed must be a non-negative integer, got ${seed}`);
  const ids = await generatedTokenIds();
  const hfConfig: Record<string, unknown> = {
    ...genVlModelConfig(opts.size, ids),
    tandem_generated: { family: 'ernie4_5_vl_moe', size: opts.size, seed },
  };
  const config = parseVlModelConfig(hfConfig);
  await mkdir(opts.outDir, { recursive: true });
  await rm(join(opts.outDir, 'config.json'), { force: true });
  const written = await writeCheckpointShards(opts.outDir, generatedVlTensorSources(config, seed), {
    maxShardBytes: opts.maxShardBytes ?? (opts.size === 'tiny' ? Infinity : 400_000_000),
    onProgress: opts.onProgress,
  });
  await writeJson(join(opts.outDir, 'generation_config.json'), genGenerationConfig());
  if (opts.tokenizer ?? true) {
    const tok = await generateTokenizer(opts.outDir, { vocabSize: config.text.vocabSize, seed });
    const want: Array<[string, number]> = [
      ['<|IMAGE_PLACEHOLDER|>', config.imageTokenId],
      ['<|IMAGE_START|>', config.imageStartTokenId],
      ['<|IMAGE_END|>', config.imageEndTokenId],
    ];
    for (const [piece, id] of want) {
      if (tok.specialTokens[piece] !== id) {
        throw new CheckpointError('bad_argument', `generated tokenizer has ${piece} = ${tok.specialTokens[piece]}, config.json says ${id}`);
      }
    }
  }
  await writeJson(join(opts.outDir, 'config.json'), hfConfig);
  return { outDir: opts.outDir, config, hfConfig, files: written.files, totalBytes: written.totalBytes, paramCount: countVlParameters(config) };
}
