import { apiError } from '../../common/errors/index.js';
import type { Tokenizer } from '../../text/tokenizer.js';

/**
 * A prompt that cannot fit the context window is refused before it is tokenized: tokenizing a
 * 4 MB body costs ~0.3 s of gateway CPU, counting what is certainly over takes a few ms.
 *
 * The bound must never refuse a prompt that fits, so it counts only what no tokenizer can drop:
 * whitespace may be collapsed and control/format characters removed by the normalizer, so they
 * do not count; NFKC may compose up to 3 code points into one (Hangul jamo → syllable), so the
 * bytes that remain are divided by 3. Each token then covers at most the longest token's bytes.
 */
const DROPPABLE = /[\s\p{C}\p{Z}]+/gu;
const NFKC_SHRINK = 3;
const SCAN_CHUNK = 16_384;

const longestToken = new WeakMap<Tokenizer, number>();

function maxTokenBytes(tokenizer: Tokenizer): number {
  let max = longestToken.get(tokenizer);
  if (max === undefined) {
    max = 1;
    for (let id = 0; id < tokenizer.vocabSize; id++) max = Math.max(max, tokenizer.tokenBytes(id).length);
    longestToken.set(tokenizer, max);
  }
  return max;
}

/**
 * Fewest tokens `text` can encode to with `tokenizer`, found without running it; the scan stops
 * once the bound reaches `enough` (the caller only needs to know it is over).
 */
export function promptTokensAtLeast(text: string, tokenizer: Tokenizer, enough = Infinity): number {
  const perToken = NFKC_SHRINK * maxTokenBytes(tokenizer);
  let kept = 0;
  // Chunks cut at any code unit: a surrogate pair split in two counts as two dropped halves or
  // less, never more, so the bound stays a lower bound.
  for (let at = 0; at < text.length && kept / perToken < enough; at += SCAN_CHUNK) {
    kept += Buffer.byteLength(text.slice(at, at + SCAN_CHUNK).replace(DROPPABLE, ''), 'utf8');
  }
  return Math.floor(kept / perToken);
}

/** context_length_exceeded when `text` certainly has `maxModelLen` tokens or more. */
export function refuseCertainlyTooLong(text: string, tokenizer: Tokenizer, maxModelLen: number, param: 'messages' | 'prompt'): void {
  // Short texts cannot be over: skip the scan (the common case).
  if (text.length < maxModelLen) return;
  const atLeast = promptTokensAtLeast(text, tokenizer, maxModelLen);
  if (atLeast >= maxModelLen) {
    throw apiError(
      'context_length_exceeded',
      `This model's maximum context length is ${maxModelLen} tokens, but the ${param} has at least ${atLeast} tokens (refused before tokenizing it). Please shorten the ${param}.`,
      param,
    );
  }
}
