import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';

/**
 * What every service needs to know of the served model, read from the checkpoint's config files
 * alone — no tokenizer, no weights: workers load weights and this card; the gateway adds the
 * tokenizer and chat template on top of it (services/gateway/served-model.ts).
 */
export interface ModelCard {
  /** The name clients ask for (`--served-model-name`, else the checkpoint folder's name). */
  name: string;
  /** config.json `model_type` (ernie4_5, ernie4_5_moe, ernie4_5_vl_moe). */
  modelType: string;
  /** Vision-language models take images (and need a Prefill-Vision stage in a cluster). */
  takesImages: boolean;
  /** Context window in tokens: the model's, or the operator's lower cap. */
  maxModelLen: number;
  /** Embedding rows: every token id is below it. */
  vocabSize: number;
  /** EOS ids of config.json and generation_config.json, sorted. */
  eosTokenIds: number[];
  /** Unix seconds when this process read the card (for /v1/models). */
  created: number;
}

const VISION_MODEL_TYPES = new Set(['ernie4_5_vl_moe']);
/** config.json's default when it names no EOS id (as the weights loader assumes). */
const DEFAULT_EOS = 2;

class ModelCardError extends Error {
  constructor(dir: string, what: string) {
    super(`${join(dir, 'config.json')}: ${what}`);
    this.name = 'ModelCardError';
  }
}

function positiveInt(dir: string, c: Record<string, unknown>, key: string, prefix: string): number {
  const v = c[key];
  if (!Number.isSafeInteger(v) || (v as number) <= 0) throw new ModelCardError(dir, `${prefix}${key} must be a positive integer, got ${JSON.stringify(v)}`);
  return v as number;
}

function addIds(into: Set<number>, v: unknown): void {
  for (const x of Array.isArray(v) ? v : [v]) if (Number.isSafeInteger(x) && (x as number) >= 0) into.add(x as number);
}

async function readJson(path: string): Promise<Record<string, unknown> | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Reads the card of a Hugging Face-layout checkpoint folder. */
export async function readModelCard(dir: string, opts: { name?: string; maxModelLen?: number } = {}): Promise<ModelCard> {
  const raw = await readJson(join(dir, 'config.json'));
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ModelCardError(dir, 'is missing or not a JSON object');
  const modelType = String(raw.model_type ?? '');
  const takesImages = VISION_MODEL_TYPES.has(modelType);
  // ERNIE-4.5-VL keeps the text decoder's settings under text_config.
  const text = takesImages && typeof raw.text_config === 'object' && raw.text_config !== null ? (raw.text_config as Record<string, unknown>) : raw;
  const prefix = text === raw ? '' : 'text_config.';
  const vocabSize = positiveInt(dir, text, 'vocab_size', prefix);
  const contextLen = positiveInt(dir, text, 'max_position_embeddings', prefix);
  const eos = new Set<number>();
  addIds(eos, text.eos_token_id ?? raw.eos_token_id ?? DEFAULT_EOS);
  addIds(eos, (await readJson(join(dir, 'generation_config.json')))?.eos_token_id);
  return {
    name: opts.name ?? basename(dir),
    modelType,
    takesImages,
    maxModelLen: Math.min(opts.maxModelLen ?? contextLen, contextLen),
    vocabSize,
    eosTokenIds: [...eos].filter((id) => id < vocabSize).sort((a, b) => a - b),
    created: Math.floor(Date.now() / 1000),
  };
}
