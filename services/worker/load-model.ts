import { readModelCard, type ModelCard } from '../protocol/model-card.js';
import type { TextModelWeights } from '../engine/model-types.js';
import { loadTextModelWeights } from '../engine/weights/load-text-weights.js';
import { loadVlModelWeights } from '../engine/weights/load-vl-weights.js';
import type { VlModelWeights } from '../engine/vl-model-types.js';

export interface LoadedModel {
  /** The text decoder (for a VL model: its decoder with the text experts). */
  weights: TextModelWeights;
  /** The whole model when it is a vision-language one (ernie4_5_vl_moe). */
  vl?: VlModelWeights;
  card: ModelCard;
}

/**
 * What a worker loads of a Hugging Face-layout checkpoint: the weights (mmapped) and the model
 * card. No tokenizer: workers see token ids only; EOS ids beyond the card's come with requests.
 */
export async function loadModel(dir: string, opts: { name?: string; maxModelLen?: number } = {}): Promise<LoadedModel> {
  const card = await readModelCard(dir, opts);
  if (card.takesImages) {
    const vl = await loadVlModelWeights(dir);
    return { weights: vl.text, vl, card };
  }
  return { weights: await loadTextModelWeights(dir), card };
}
