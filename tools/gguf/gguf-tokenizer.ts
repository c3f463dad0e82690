/**
 * The tokenizer part of a GGUF for llama.cpp's SentencePiece vocabulary (tokenizer.ggml.model =
 * "llama"), as convert_hf_to_gguf's `_set_vocab_sentencepiece` writes it: one token string,
 * score and type per id up to the model's vocab_size (ids the tokenizer does not use become
 * `[PAD<id>]` of type UNUSED, so the vocabulary matches the embedding rows), plus the special ids.
 * Without tokenizer.model a byte-level placeholder vocabulary is written: llama.cpp loads it, and
 * the benchmark feeds token ids anyway.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PieceType, readSentencePieceModel, type SentencePiece } from '../../services/text/sentencepiece-model.js';
import type { TextModelConfig } from '../../services/engine/model-types.js';
import type { GgufWriter } from './gguf-writer.js';

function placeholderPieces(): SentencePiece[] {
  const special = ['<unk>', '<s>', '</s>'].map((piece, i) => ({ piece, score: 0, type: i === 0 ? PieceType.UNKNOWN : PieceType.CONTROL }));
  const bytes = Array.from({ length: 256 }, (_, b) => ({ piece: `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, score: 0, type: PieceType.BYTE }));
  return [...special, ...bytes];
}

/** Adds the tokenizer.ggml.* keys for `config` (vocab_size, special ids) from `dir`'s tokenizer.model. */
export function addTokenizer(w: GgufWriter, dir: string, config: TextModelConfig): void {
  const spm = join(dir, 'tokenizer.model');
  const pieces = existsSync(spm) ? readSentencePieceModel(readFileSync(spm)).pieces : placeholderPieces();
  if (pieces.length > config.vocabSize) throw new RangeError(`${spm} has ${pieces.length} pieces, more than vocab_size ${config.vocabSize}`);
  const tokens: string[] = [];
  const scores: number[] = [];
  const types: number[] = [];
  for (let id = 0; id < config.vocabSize; id++) {
    const p = pieces[id];
    tokens.push(p ? p.piece : `[PAD${id}]`);
    scores.push(p ? p.score : -1000);
    types.push(p ? p.type : PieceType.UNUSED);
  }
  const eos = Array.isArray(config.eosTokenId) ? config.eosTokenId[0]! : config.eosTokenId;
  w.string('tokenizer.ggml.model', 'llama')
    .strings('tokenizer.ggml.tokens', tokens)
    .f32s('tokenizer.ggml.scores', scores)
    .i32s('tokenizer.ggml.token_type', types)
    .u32('tokenizer.ggml.bos_token_id', config.bosTokenId)
    .u32('tokenizer.ggml.eos_token_id', eos)
    .u32('tokenizer.ggml.unknown_token_id', Math.max(0, pieces.findIndex((p) => p.type === PieceType.UNKNOWN)))
    .u32('tokenizer.ggml.padding_token_id', config.padTokenId)
    .bool('tokenizer.ggml.add_bos_token', false)
    .bool('tokenizer.ggml.add_eos_token', false);
}
