// A small, deterministic BPE trainer: enough to give generated checkpoints a tokenizer
// with real multi-character pieces. Words never span whitespace, scripts or digit/letter
// boundaries (as with SentencePiece's split_by_* defaults), so pieces look like a real
// model's: "▁the", "ing", "天气", "▁{\"".

import { SPACE_SYMBOL } from '../../services/text/sentencepiece-normalizer.js';

export interface BpeTrainOptions {
  /** most pieces (alphabet + merged) the result may hold */
  maxPieces: number;
  /** a pair must occur this often to be merged; 2 stops short of memorising the corpus */
  minPairCount?: number;
  /** longest merged piece, in code points (SentencePiece's default is 16) */
  maxPieceChars?: number;
  /** varies tie-breaking between equally frequent pairs; same seed → same result */
  seed?: number;
}

export interface BpeTrainResult {
  /** single characters, most frequent first (then characters too rare to merge) */
  alphabet: string[];
  /** merged pieces in the order they were learned (no duplicates) */
  pieces: string[];
}

// Spaces are already "▁". A word is an optional "▁" plus one run of Han, of kana, of other
// letters, of digits, or of other symbols; or a lone "▁"; or a run of control whitespace.
const WORD = new RegExp(
  [
    `${SPACE_SYMBOL}?\\p{Script=Han}+`,
    `${SPACE_SYMBOL}?[\\p{Script=Hiragana}\\p{Script=Katakana}\\u30fc]+`,
    `${SPACE_SYMBOL}?(?:(?!\\p{Script=Han}|\\p{Script=Hiragana}|\\p{Script=Katakana})[\\p{L}\\p{M}])+`,
    `${SPACE_SYMBOL}?\\p{N}+`,
    `${SPACE_SYMBOL}?[^\\s\\p{L}\\p{M}\\p{N}${SPACE_SYMBOL}]+`,
    SPACE_SYMBOL,
    `\\s+`,
  ].join('|'),
  'gu',
);

/** FNV-1a over the seed and a string: a cheap, stable tie-breaker. */
function tieHash(seed: number, s: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

const SEP = '\u0000';

export function trainBpe(text: string, opts: BpeTrainOptions): BpeTrainResult {
  const minCount = opts.minPairCount ?? 2;
  const maxChars = opts.maxPieceChars ?? 16;
  const seed = opts.seed ?? 0;
  const normalized = text.replace(/ /g, SPACE_SYMBOL);

  // Alphabet: characters most frequent first (code point order on ties). A character seen
  // fewer than minCount times can never be part of a mergeable pair, so such characters
  // only get pieces if room is left after merging (else byte fallback covers them).
  const charCounts = new Map<string, number>();
  for (const ch of normalized) charCounts.set(ch, (charCounts.get(ch) ?? 0) + 1);
  const byFrequency = [...charCounts.entries()]
    .sort((a, b) => b[1] - a[1] || a[0].codePointAt(0)! - b[0].codePointAt(0)!);
  const rare = byFrequency.filter(([, c]) => c < minCount).map(([ch]) => ch);
  const alphabet = byFrequency
    .filter(([, c]) => c >= minCount)
    .map(([ch]) => ch)
    .slice(0, Math.max(0, opts.maxPieces));
  const inAlphabet = new Set(alphabet);

  // Word counts; characters left out of the alphabet break words (they will be bytes).
  const wordCounts = new Map<string, number>();
  for (const m of normalized.matchAll(WORD)) {
    let current = '';
    for (const ch of m[0]) {
      if (inAlphabet.has(ch)) {
        current += ch;
      } else if (current) {
        wordCounts.set(current, (wordCounts.get(current) ?? 0) + 1);
        current = '';
      }
    }
    if (current) wordCounts.set(current, (wordCounts.get(current) ?? 0) + 1);
  }
  const words: string[][] = [];
  const counts: number[] = [];
  for (const [w, c] of wordCounts) {
    words.push(Array.from(w));
    counts.push(c);
  }

  const pairCount = new Map<string, number>();
  const pairWords = new Map<string, Set<number>>();
  const addPairs = (wi: number, sign: number): void => {
    const syms = words[wi]!;
    for (let i = 0; i + 1 < syms.length; i++) {
      const key = syms[i]! + SEP + syms[i + 1]!;
      pairCount.set(key, (pairCount.get(key) ?? 0) + sign * counts[wi]!);
      if (sign > 0) {
        let set = pairWords.get(key);
        if (set === undefined) pairWords.set(key, (set = new Set()));
        set.add(wi);
      }
    }
  };
  words.forEach((_, wi) => addPairs(wi, 1));

  const pieces: string[] = [];
  const seen = new Set(alphabet);
  const tooLong = new Set<string>();
  while (alphabet.length + pieces.length < opts.maxPieces) {
    let best: string | undefined;
    let bestCount = 0;
    let bestTie = 0;
    for (const [key, c] of pairCount) {
      if (c < minCount || tooLong.has(key)) continue;
      if (c > bestCount || (c === bestCount && tieHash(seed, key) < bestTie)) {
        best = key;
        bestCount = c;
        bestTie = tieHash(seed, key);
      }
    }
    if (best === undefined) break;
    const [left, right] = best.split(SEP) as [string, string];
    const merged = left + right;
    if (Array.from(merged).length > maxChars) {
      tooLong.add(best);
      continue;
    }
    for (const wi of pairWords.get(best) ?? []) {
      const syms = words[wi]!;
      let has = false;
      for (let i = 0; i + 1 < syms.length; i++) if (syms[i] === left && syms[i + 1] === right) has = true;
      if (!has) continue;
      addPairs(wi, -1);
      const next: string[] = [];
      for (let i = 0; i < syms.length; i++) {
        if (i + 1 < syms.length && syms[i] === left && syms[i + 1] === right) {
          next.push(merged);
          i++;
        } else {
          next.push(syms[i]!);
        }
      }
      words[wi] = next;
      addPairs(wi, 1);
    }
    pairCount.delete(best);
    if (!seen.has(merged)) {
      seen.add(merged);
      pieces.push(merged);
    }
  }
  for (const ch of rare) {
    if (alphabet.length + pieces.length >= opts.maxPieces) break;
    alphabet.push(ch);
  }
  return { alphabet, pieces };
}
