/**
 * The requests of a run, built before it starts: a synthetic set from length distributions, or
 * a JSONL file. Same seed and options → the same requests, which is what lets `--compare` run
 * one workload against two clusters.
 */
import { readFile } from 'node:fs/promises';
import type { Tokenizer } from '../../services/text/tokenizer.js';
import { pngDataUrl } from './images.js';
import type { LengthDist } from './lengths.js';
import { promptText } from './prompt-text.js';
import { makeRng, type Uniform } from './random.js';

export interface DatasetItem {
  id: number;
  text: string;
  /** the prompt length asked of the generator (tokens, or words without a tokenizer) */
  targetPromptTokens?: number;
  maxTokens: number;
  /** a data: URL sent as an image_url content part next to the text */
  image?: string;
}

export interface SyntheticOptions {
  count: number;
  seed: number;
  promptLen: LengthDist;
  outputLen: LengthDist;
  /** share of requests carrying an image, 0..1 */
  imageFraction?: number;
  tokenizer?: Tokenizer;
}

export async function syntheticDataset(o: SyntheticOptions): Promise<DatasetItem[]> {
  const u = makeRng(o.seed);
  const items: DatasetItem[] = [];
  for (let id = 0; id < o.count; id++) {
    const promptTokens = o.promptLen.sample(u);
    const maxTokens = o.outputLen.sample(u);
    const item: DatasetItem = { id, text: promptText(u, promptTokens, o.tokenizer), targetPromptTokens: promptTokens, maxTokens };
    if (u() < (o.imageFraction ?? 0)) item.image = await pngDataUrl(u);
    items.push(item);
  }
  return items;
}

export interface JsonlOptions {
  count?: number;
  seed: number;
  /** used when a line has no max_tokens / output_len */
  outputLen: LengthDist;
  imageFraction?: number;
}

/**
 * One request per line: {"prompt": "...", "max_tokens": N} — "text" or the last user message of
 * "messages" is taken when "prompt" is absent, "output_len" is accepted for "max_tokens".
 * With count larger than the file, lines are reused in order.
 */
export async function jsonlDataset(path: string, o: JsonlOptions): Promise<DatasetItem[]> {
  const lines = (await readFile(path, 'utf8')).split('\n').filter((l) => l.trim() !== '');
  if (lines.length === 0) throw new Error(`dataset ${path} has no lines`);
  const u = makeRng(o.seed);
  const rows = lines.map((l, i) => parseLine(l, `${path}:${i + 1}`, u, o.outputLen));
  const count = o.count ?? rows.length;
  const items: DatasetItem[] = [];
  for (let id = 0; id < count; id++) {
    const row = rows[id % rows.length]!;
    const item: DatasetItem = { id, text: row.text, maxTokens: row.maxTokens };
    if (u() < (o.imageFraction ?? 0)) item.image = await pngDataUrl(u);
    items.push(item);
  }
  return items;
}

function parseLine(line: string, where: string, u: Uniform, outputLen: LengthDist): { text: string; maxTokens: number } {
  let row: Record<string, unknown>;
  try {
    row = JSON.parse(line) as Record<string, unknown>;
  } catch {
    throw new Error(`${where}: not JSON`);
  }
  let text = row.prompt ?? row.text;
  if (text === undefined && Array.isArray(row.messages)) {
    const users = (row.messages as Array<{ role?: string; content?: unknown }>).filter((m) => m.role === 'user');
    text = users[users.length - 1]?.content;
  }
  if (typeof text !== 'string' || text === '') throw new Error(`${where}: needs a "prompt", "text" or user "messages" string`);
  const given = row.max_tokens ?? row.output_len;
  if (given !== undefined && (!Number.isInteger(given) || (given as number) < 1)) throw new Error(`${where}: max_tokens must be an integer >= 1`);
  return { text, maxTokens: (given as number | undefined) ?? outputLen.sample(u) };
}
