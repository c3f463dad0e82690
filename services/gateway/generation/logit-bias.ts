import { apiError } from '../../common/errors/index.js';
import type { NormalizedRequest } from '../openai/index.js';

/** logit_bias may only name ids the model's tokenizer knows (the schema checked the values). */
export function checkLogitBias(req: NormalizedRequest, vocabSize: number): void {
  for (const id of Object.keys(req.logitBias ?? {})) {
    if (Number(id) >= vocabSize) throw apiError('invalid_parameter', `'logit_bias' names token ${id}, but the vocabulary has ids 0..${vocabSize - 1}.`, `logit_bias.${id}`);
  }
}
