import { resolve } from 'node:path';
import { generateCheckpoint } from '../../../tools/gen/gen-model.js';
import { GEN_SIZES, type GenSize } from '../../../tools/gen/presets.js';
import { progressForLargeWrites } from '../progress.js';
import type { TextFamily } from '../../engine/model-types.js';
import type { VlFamily } from '../../engine/vl-model-types.js';
import { CliError } from '../cli-error.js';
import { intOption, parseCommandArgs, quantizationOption } from '../parse.js';

const HELP = `usage: tandem gen-model --family ernie4_5|ernie4_5_moe|ernie4_5_vl_moe --size tiny|0.3b|moe-small|small|21b-a3b --out DIR [--seed N]
                        [--weight-scale X] [--quantization wint8|wint4]

Writes a checkpoint with seeded random weights in the exact Hugging Face layout (config.json,
safetensors shards + index, tokenizer.model, tokenizer.json, tokenizer_config.json).
Sizes: ernie4_5: tiny, 0.3b (the real ERNIE-4.5-0.3B shapes); ernie4_5_moe: tiny, moe-small (64 experts, top-6),
21b-a3b (the real ERNIE-4.5-21B-A3B shapes: 42 GB in bf16, 11.6 GB with --quantization wint4);
ernie4_5_vl_moe: tiny, small (ViT + resampler + 64 text and 64 vision experts, top-6).
--weight-scale X multiplies the spread of every weight matrix (text families; default 1, where a
random model repeats one token; 1.5 gives varied output for quality comparisons).
--quantization wint8|wint4 writes the linear layers pre-quantized (docs/quantization.md), tensor
by tensor, so a model too large for memory in bf16 (21b-a3b) is written with bounded memory and
served without re-quantizing at every start.`;

export async function runGenModel(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    family: { type: 'string' },
    size: { type: 'string' },
    out: { type: 'string' },
    seed: { type: 'string' },
    'weight-scale': { type: 'string' },
    quantization: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const family = values.family as TextFamily | VlFamily | undefined;
  if (!family || !(family in GEN_SIZES)) throw new CliError(`--family must be one of ${Object.keys(GEN_SIZES).join(', ')}\n\n${HELP}`);
  const size = values.size as GenSize | undefined;
  if (!size || !GEN_SIZES[family].includes(size)) throw new CliError(`--size for ${family} must be one of ${GEN_SIZES[family].join(', ')}`);
  if (!values.out) throw new CliError('--out DIR is required');
  const seed = intOption(values.seed, 'seed', 0);
  const weightScale = values['weight-scale'] === undefined ? 1 : Number(values['weight-scale']);
  if (!(weightScale > 0) || !Number.isFinite(weightScale)) throw new CliError(`--weight-scale must be a positive number, got '${values['weight-scale']}'`);
  const q = values.quantization === undefined ? 'none' : quantizationOption(values.quantization);
  const outDir = resolve(values.out);
  const bar = progressForLargeWrites(`${family} ${size}`);
  const r = await generateCheckpoint({ family, size, outDir, seed, weightScale, quantization: q === 'none' ? undefined : q, onProgress: bar.update });
  bar.finish();
  console.log(`wrote ${r.paramCount.toLocaleString('en-US')} parameters (${r.files.length} safetensors file(s)) to ${r.outDir}`);
  return 0;
}
