import { loadTokenizer } from '../text/load-tokenizer.js';
import { tokenVocabularyOf } from '../text/token-vocabulary.js';
import type { TokenVocabulary } from '../grammar/index.js';

/**
 * The token bytes of the model in `modelDir`, for structured output on its workers (they never
 * tokenize; they only need what each id stands for). Undefined, with a warning, when the model
 * ships no tokenizer: those workers refuse requests with a grammar and serve everything else.
 */
export async function loadModelVocabulary(modelDir: string, log: (m: string) => void): Promise<TokenVocabulary | undefined> {
  try {
    return tokenVocabularyOf(await loadTokenizer(modelDir));
  } catch (e) {
    log(`[tandem] no tokenizer in ${modelDir} (${(e as Error).message}): structured output (response_format, forced tool calls) is off on this worker`);
    return undefined;
  }
}
