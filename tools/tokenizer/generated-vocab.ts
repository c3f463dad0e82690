// The vocabulary of generated (random-weight) checkpoints: ERNIE's special tokens, the 256
// byte-fallback pieces, then BPE pieces learned from the built-in corpus, then the corpus
// alphabet, then any extra user-defined pieces. Everything is a pure function of
// (vocabSize, seed, extraPieces): byte-identical files.

import { trainBpe } from './bpe-trainer.js';
import { bytePieceName } from '../../services/text/byte-pieces.js';
import { SPACE_SYMBOL } from '../../services/text/sentencepiece-normalizer.js';
import { PieceType, type SentencePiece } from '../../services/text/sentencepiece-model.js';
import { TRAINING_TEXT } from '../../services/text/training-text.js';

export interface SpecialTokenSpec {
  content: string;
  type: PieceType.UNKNOWN | PieceType.CONTROL | PieceType.USER_DEFINED;
}

/** Ids 0.. of every generated tokenizer. CONTROL tokens are "special" (skipped by
 *  skip_special_tokens); <think>, <tool_call> and friends are USER_DEFINED so they stay
 *  visible in decoded text, where the reasoning and tool-call parsers look for them. */
export const ERNIE_SPECIAL_TOKENS: readonly SpecialTokenSpec[] = [
  { content: '<unk>', type: PieceType.UNKNOWN },
  { content: '<s>', type: PieceType.CONTROL },
  { content: '</s>', type: PieceType.CONTROL },
  { content: '<|begin_of_sentence|>', type: PieceType.CONTROL },
  { content: '<|end_of_sentence|>', type: PieceType.CONTROL },
  { content: '<think>', type: PieceType.USER_DEFINED },
  { content: '</think>', type: PieceType.USER_DEFINED },
  { content: '<tool_call>', type: PieceType.USER_DEFINED },
  { content: '</tool_call>', type: PieceType.USER_DEFINED },
  { content: '<tool_response>', type: PieceType.USER_DEFINED },
  { content: '</tool_response>', type: PieceType.USER_DEFINED },
  { content: '<|IMAGE_PLACEHOLDER|>', type: PieceType.CONTROL },
  { content: '<|IMAGE_START|>', type: PieceType.CONTROL },
  { content: '<|IMAGE_END|>', type: PieceType.CONTROL },
  { content: '<|VIDEO_PLACEHOLDER|>', type: PieceType.CONTROL },
  { content: '<|VIDEO_START|>', type: PieceType.CONTROL },
  { content: '<|VIDEO_END|>', type: PieceType.CONTROL },
];

/** A piece matched whole in input text (ERNIE special token or extra piece). */
export interface GeneratedAddedToken {
  /** the text as it appears in input and decoded output (spaces, not "▁") */
  content: string;
  id: number;
  special: boolean;
}

export interface GeneratedVocab {
  pieces: SentencePiece[];
  /** ERNIE's special tokens then the extra pieces, in id order */
  added: GeneratedAddedToken[];
  /** extra piece text → its id */
  extraIds: Map<string, number>;
  /** BPE merges for tokenizer.json, in rank order */
  merges: Array<[string, string]>;
  /** number of learned (multi-character) pieces */
  learned: number;
}

/**
 * @param extraPieces whole strings that become USER_DEFINED pieces: matched whole in input
 *   (before BPE, like <think>) and never skipped as special. Each gets the next id after the
 *   alphabet, so adding extras leaves every special, byte and (up to the reserved budget)
 *   learned id where it was; room for them is reserved out of vocabSize before training.
 *   An extra that the corpus already learned as a piece keeps that piece's id and turns
 *   user-defined (BPE can no longer reach it: its text is always cut out first).
 */
export function buildGeneratedVocab(vocabSize: number, seed = 0, extraPieces: readonly string[] = []): GeneratedVocab {
  const fixed = ERNIE_SPECIAL_TOKENS.length + 256;
  const minSize = fixed + extraPieces.length;
  if (!Number.isInteger(vocabSize) || vocabSize < minSize) {
    throw new RangeError(
      `vocabSize must be an integer >= ${minSize} (special tokens + 256 byte pieces + extra pieces), got ${vocabSize}`,
    );
  }
  const pieces: SentencePiece[] = [];
  for (const s of ERNIE_SPECIAL_TOKENS) pieces.push({ piece: s.content, score: 0, type: s.type });
  for (let b = 0; b < 256; b++) pieces.push({ piece: bytePieceName(b), score: 0, type: PieceType.BYTE });
  checkExtraPieces(extraPieces, new Set(pieces.map((p) => p.piece)));

  const trained = trainBpe(TRAINING_TEXT, { maxPieces: vocabSize - minSize, seed });
  // BPE priority lives in the score: earlier merges score higher. Single characters come
  // last (as SentencePiece orders them) with the lowest scores; they are never merge results.
  trained.pieces.forEach((p, i) => pieces.push({ piece: p, score: -i, type: PieceType.NORMAL }));
  const base = trained.pieces.length;
  trained.alphabet.forEach((ch, i) => pieces.push({ piece: ch, score: -(base + i), type: PieceType.NORMAL }));

  const extraIds = placeExtraPieces(pieces, extraPieces);
  const added: GeneratedAddedToken[] = ERNIE_SPECIAL_TOKENS.map((s, id) => ({
    content: s.content,
    id,
    special: s.type !== PieceType.USER_DEFINED,
  }));
  for (const [content, id] of extraIds) added.push({ content, id, special: false });
  added.sort((a, b) => a.id - b.id);

  return { pieces, added, extraIds, merges: mergesFromPieces(pieces), learned: trained.pieces.length };
}

function checkExtraPieces(extras: readonly string[], fixedPieces: ReadonlySet<string>): void {
  const seen = new Set<string>();
  for (const e of extras) {
    if (typeof e !== 'string' || e.length === 0) throw new RangeError('extraPieces: pieces must be non-empty strings');
    // The SentencePiece file spells spaces as "▁"; a literal "▁" would read back as a space.
    if (e.includes(SPACE_SYMBOL)) throw new RangeError(`extraPieces: ${JSON.stringify(e)} contains U+2581, which SentencePiece reserves for spaces`);
    if (fixedPieces.has(e) || fixedPieces.has(e.replaceAll(' ', SPACE_SYMBOL))) {
      throw new RangeError(`extraPieces: ${JSON.stringify(e)} collides with a special token or byte piece`);
    }
    if (seen.has(e)) throw new RangeError(`extraPieces: ${JSON.stringify(e)} is listed twice`);
    seen.add(e);
  }
}

/** Appends (or converts) the extra pieces in `pieces`; returns extra text → id. */
function placeExtraPieces(pieces: SentencePiece[], extras: readonly string[]): Map<string, number> {
  const normalIds = new Map<string, number>();
  pieces.forEach((p, id) => {
    if (p.type === PieceType.NORMAL) normalIds.set(p.piece, id);
  });
  const ids = new Map<string, number>();
  for (const e of extras) {
    // Pieces are stored in SentencePiece's escaped form; the tokenizers unescape user-defined ones.
    const piece = e.replaceAll(' ', SPACE_SYMBOL);
    const existing = normalIds.get(piece);
    if (existing !== undefined) {
      pieces[existing] = { piece, score: 0, type: PieceType.USER_DEFINED };
      ids.set(e, existing);
    } else {
      ids.set(e, pieces.length);
      pieces.push({ piece, score: 0, type: PieceType.USER_DEFINED });
    }
  }
  return ids;
}

/**
 * Derives rank-ordered merges from scored pieces the way SentencePiece BPE models are
 * converted to tokenizer.json: every split of a piece into two pieces is a merge, ranked by
 * the merged piece's score. Then "merge the best pair by rank" picks the same pair as
 * "merge the pair whose concatenation scores highest", and both formats encode alike.
 */
export function mergesFromPieces(pieces: readonly SentencePiece[]): Array<[string, string]> {
  const ids = new Map<string, number>();
  pieces.forEach((p, id) => {
    if (p.type === PieceType.NORMAL && !ids.has(p.piece)) ids.set(p.piece, id);
  });
  const found: Array<{ merged: number; left: number; right: number; pair: [string, string] }> = [];
  for (const [piece, merged] of ids) {
    const chars = Array.from(piece);
    let leftText = '';
    for (let k = 1; k < chars.length; k++) {
      leftText += chars[k - 1]!;
      const rightText = chars.slice(k).join('');
      const left = ids.get(leftText);
      const right = ids.get(rightText);
      if (left !== undefined && right !== undefined) found.push({ merged, left, right, pair: [leftText, rightText] });
    }
  }
  found.sort((a, b) => {
    const sa = pieces[a.merged]!.score;
    const sb = pieces[b.merged]!.score;
    return sb - sa || a.merged - b.merged || a.left - b.left || a.right - b.right;
  });
  return found.map((f) => f.pair);
}
