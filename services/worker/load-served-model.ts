import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { TextModelConfig, TextModelWeights } from '../engine/model-types.js';
import { parseTextModelConfig } from '../engine/weights/config.js';
import { loadTextModelWeights } from '../engine/weights/load-text-weights.js';
import { loadVlModelWeights } from '../engine/weights/load-vl-weights.js';
import { parseVlModelConfig } from '../engine/weights/vl-config.js';
import type { VlModelWeights } from '../engine/vl-model-types.js';
import { visionSpecFromConfig } from '../gateway/vision/vision-spec.js';
import type { ServedModel } from '../gateway/backend.js';
import { loadTokenizerBundle } from '../text/load-tokenizer.js';

export interface LoadedModel {
  /** The text decoder (for a VL model: its decoder with the text experts). */
  weights: TextModelWeights;
  /** The whole model when it is a vision-language one (ernie4_5_vl_moe). */
  vl?: VlModelWeights;
  served: ServedModel;
}

const VL_MODEL_TYPES = new Set(['ernie4_5_vl_moe']);

function textConfigOf(raw: Record<string, unknown>): TextModelConfig {
  return VL_MODEL_TYPES.has(String(raw.model_type)) ? parseVlModelConfig(raw).text : parseTextModelConfig(raw);
}

/** EOS ids from config.json, generation_config.json and the tokenizer, merged. */
async function eosIds(dir: string, config: TextModelConfig, tokenizerEos: number): Promise<number[]> {
  const ids = new Set<number>();
  const add = (v: unknown) => {
    for (const x of Array.isArray(v) ? v : [v]) if (Number.isInteger(x) && (x as number) >= 0) ids.add(x as number);
  };
  add(config.eosTokenId);
  if (tokenizerEos >= 0) ids.add(tokenizerEos);
  try {
    add(JSON.parse(await readFile(join(dir, 'generation_config.json'), 'utf8')).eos_token_id);
  } catch {
    // generation_config.json is optional
  }
  return [...ids].sort((a, b) => a - b);
}

/** What a gateway needs of a checkpoint: tokenizer, chat template, context length, EOS ids (no weights). */
export async function loadServedModelInfo(dir: string, opts: { name?: string; maxModelLen?: number } = {}): Promise<ServedModel> {
  const raw = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  const config = textConfigOf(raw);
  const bundle = await loadTokenizerBundle(dir);
  const vision = visionSpecFromConfig(raw, bundle.tokenizer);
  return {
    ...(vision ? { vision } : {}),
    name: opts.name ?? basename(dir),
    tokenizer: bundle.tokenizer,
    chatTemplate: bundle.chatTemplate,
    maxModelLen: Math.min(opts.maxModelLen ?? config.maxPositionEmbeddings, config.maxPositionEmbeddings),
    vocabSize: config.vocabSize,
    eosTokenIds: await eosIds(dir, config, bundle.tokenizer.eosId),
    created: Math.floor(Date.now() / 1000),
  };
}

/** Loads weights (mmapped), tokenizer and chat template of a Hugging Face-layout checkpoint. */
export async function loadServedModel(dir: string, opts: { name?: string; maxModelLen?: number } = {}): Promise<LoadedModel> {
  const served = await loadServedModelInfo(dir, opts);
  if (served.vision) {
    const vl = await loadVlModelWeights(dir);
    return { weights: vl.text, vl, served };
  }
  return { weights: await loadTextModelWeights(dir), served };
}
