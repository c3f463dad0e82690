import type { Tokenizer } from './tokenizer.js';

const NOTHING = new Uint8Array(0);

/**
 * The bytes each token id adds to decoded output, as the gateway decodes it (special tokens
 * skipped): what a grammar mask must match. Structurally a grammar TokenVocabulary.
 */
export function tokenVocabularyOf(tokenizer: Tokenizer): { size: number; bytes(id: number): Uint8Array } {
  return {
    size: tokenizer.vocabSize,
    bytes: (id) => (tokenizer.isSpecialId(id) ? NOTHING : tokenizer.tokenBytes(id)),
  };
}
