import type { TokenVocabulary } from '../../grammar/index.js';

/**
 * The model's own tokens, then made-up ones up to `size` ids. Generated checkpoints ship a
 * tokenizer of about a thousand pieces (all their built-in corpus supports) while the model's
 * vocabulary is ERNIE's 103,424: a grammar over the small one would understate what masks cost.
 * The filler looks like a real BPE vocabulary to the trie: words with and without a leading
 * space, capitalized words, CJK runs (3-byte UTF-8), digits and JSON punctuation.
 */
export function paddedVocabulary(base: TokenVocabulary, size: number, seed = 1): TokenVocabulary {
  if (size <= base.size) return base;
  const enc = new TextEncoder();
  let state = seed >>> 0 || 1;
  const rand = (n: number): number => {
    // xorshift32: deterministic, so two runs mask the same vocabulary.
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) % n;
  };
  const letters = 'etaoinshrdlcumwfgypbvkjxqz';
  const word = (n: number): string => Array.from({ length: n }, () => letters[Math.min(rand(26), rand(26))]).join('');
  const punct = ['{', '}', '"', ':', ',', '[', ']', '\n', ' ', '.', '-', '_', '(', ')', '\\', '/'];
  const piece = (): string => {
    const k = rand(100);
    if (k < 45) return ' ' + word(2 + rand(8));
    if (k < 65) return word(2 + rand(8));
    if (k < 75) { const w = word(2 + rand(7)); return ' ' + w[0]!.toUpperCase() + w.slice(1); }
    if (k < 85) return Array.from({ length: 1 + rand(3) }, () => String.fromCodePoint(0x4e00 + rand(0x5000))).join('');
    if (k < 90) return String(rand(1000));
    return Array.from({ length: 1 + rand(3) }, () => punct[rand(punct.length)]).join('');
  };
  const extra = Array.from({ length: size - base.size }, () => enc.encode(piece()));
  return { size, bytes: (id) => (id < base.size ? base.bytes(id) : extra[id - base.size]!) };
}
