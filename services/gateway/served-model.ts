import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readModelCard } from '../protocol/model-card.js';
import { loadTokenizerBundle } from '../text/load-tokenizer.js';
import type { ServedModel } from './backend.js';
import { visionSpecFromConfig } from './vision/vision-spec.js';

/**
 * What the gateway needs of a checkpoint (no weights): the model card, tokenizer and chat
 * template, the vision spec of VL models, and the EOS ids of the card merged with the
 * tokenizer's (they travel with every request, so workers need no tokenizer).
 */
export async function loadServedModel(dir: string, opts: { name?: string; maxModelLen?: number } = {}): Promise<ServedModel> {
  const card = await readModelCard(dir, opts);
  const bundle = await loadTokenizerBundle(dir);
  const raw = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  const vision = card.takesImages ? visionSpecFromConfig(raw, bundle.tokenizer) : undefined;
  const eos = new Set(card.eosTokenIds);
  if (bundle.tokenizer.eosId >= 0 && bundle.tokenizer.eosId < card.vocabSize) eos.add(bundle.tokenizer.eosId);
  return {
    ...card,
    ...(vision ? { vision } : {}),
    tokenizer: bundle.tokenizer,
    chatTemplate: bundle.chatTemplate,
    eosTokenIds: [...eos].sort((a, b) => a - b),
  };
}
