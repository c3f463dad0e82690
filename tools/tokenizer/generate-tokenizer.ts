// Writes the tokenizer of a generated ERNIE-like checkpoint: tokenizer.model (SentencePiece
// BPE with byte fallback) and/or tokenizer.json (the same vocabulary in Hugging Face's
// SentencePiece flavour), tokenizer_config.json with the ERNIE chat template, and
// special_tokens_map.json. Same options → byte-identical files.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ERNIE_CHAT_TEMPLATE } from '../../services/text/ernie-chat-template.js';
import { ERNIE_SPECIAL_TOKENS, buildGeneratedVocab, type GeneratedVocab } from './generated-vocab.js';
import { serializeHfTokenizerJson, type HfTokenizerJson } from '../../services/text/hf-tokenizer-json.js';
import { SENTENCEPIECE_FILE, TOKENIZER_JSON_FILE } from '../../services/text/load-tokenizer.js';
import {
  ModelType,
  PieceType,
  defaultTrainerSpec,
  writeSentencePieceModel,
} from '../../services/text/sentencepiece-model.js';
import { SPACE_SYMBOL } from '../../services/text/sentencepiece-normalizer.js';

export type TokenizerFormat = 'sentencepiece' | 'json';

export interface GenerateTokenizerOptions {
  /** the model's vocab_size: an upper bound; the tokenizer uses as many ids as the
   *  built-in corpus supports, and ids above stay unused */
  vocabSize: number;
  seed?: number;
  /** default: both */
  formats?: TokenizerFormat[];
  /** whole strings that each encode to ONE non-special token (so a test model can emit
   *  e.g. "Paris" or "{\"city\": " in a single step). They get ids after the learned
   *  pieces and alphabet, in the order given; see buildGeneratedVocab for the details. */
  extraPieces?: string[];
}

export interface GeneratedTokenizer {
  /** ids the tokenizer uses (0 .. vocabSize-1); <= the requested vocabSize */
  vocabSize: number;
  /** pieces learned by BPE from the corpus */
  learnedPieces: number;
  files: string[];
  bosId: number;
  eosId: number;
  padId: number;
  unkId: number;
  /** special token → id (e.g. "<|IMAGE_PLACEHOLDER|>" for im_patch_id) */
  specialTokens: Record<string, number>;
  /** each requested extra piece → its id */
  extraPieces: Record<string, number>;
}

const BOS = '<s>';
const EOS = '</s>';
const UNK = '<unk>';
const CLS = '<|begin_of_sentence|>';
const SEP = '<|end_of_sentence|>';

function sentencePieceBytes(vocab: GeneratedVocab): Uint8Array {
  return writeSentencePieceModel({
    pieces: vocab.pieces,
    trainerSpec: {
      ...defaultTrainerSpec(),
      modelType: ModelType.BPE,
      vocabSize: vocab.pieces.length,
      byteFallback: true,
      unkId: 0,
      bosId: 1,
      eosId: 2,
      padId: -1,
    },
    // ERNIE-style: no dummy prefix and whitespace kept verbatim, so text round-trips exactly.
    normalizerSpec: {
      name: 'identity',
      addDummyPrefix: false,
      removeExtraWhitespaces: false,
      escapeWhitespaces: true,
      unknownFields: new Uint8Array(0),
    },
    unknownFields: new Uint8Array(0),
  });
}

function tokenizerJson(vocab: GeneratedVocab): string {
  const tj: HfTokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: vocab.added.map((t) => ({
      id: t.id,
      content: t.content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: t.special,
    })),
    normalizer: { type: 'Replace', pattern: { String: ' ' }, content: SPACE_SYMBOL },
    pre_tokenizer: null,
    post_processor: null,
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: SPACE_SYMBOL }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: UNK,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab: new Map(vocab.pieces.map((p, id) => [p.piece, id])),
      merges: vocab.merges,
    },
  };
  return serializeHfTokenizerJson(tj);
}

function tokenizerConfig(vocab: GeneratedVocab): Record<string, unknown> {
  const decoder: Record<string, unknown> = {};
  for (const t of vocab.added) {
    decoder[String(t.id)] = {
      content: t.content,
      lstrip: false,
      normalized: false,
      rstrip: false,
      single_word: false,
      special: t.special,
    };
  }
  return {
    add_bos_token: false,
    add_eos_token: false,
    added_tokens_decoder: decoder,
    additional_special_tokens: ERNIE_SPECIAL_TOKENS.filter((s) => s.type === PieceType.CONTROL)
      .map((s) => s.content)
      .filter((c) => ![BOS, EOS, CLS, SEP].includes(c)),
    bos_token: BOS,
    eos_token: EOS,
    // ERNIE pads with <unk>.
    pad_token: UNK,
    unk_token: UNK,
    cls_token: CLS,
    sep_token: SEP,
    chat_template: ERNIE_CHAT_TEMPLATE,
    clean_up_tokenization_spaces: false,
    model_max_length: 131072,
    // Loads in transformers without remote code: the fast class reads tokenizer.json, the
    // slow one (legacy mode, the default) feeds text to the SentencePiece model unchanged.
    tokenizer_class: 'LlamaTokenizer',
  };
}

function specialTokensMap(vocab: GeneratedVocab): Record<string, unknown> {
  const cfg = tokenizerConfig(vocab);
  return {
    bos_token: cfg.bos_token,
    eos_token: cfg.eos_token,
    unk_token: cfg.unk_token,
    pad_token: cfg.pad_token,
    cls_token: cfg.cls_token,
    sep_token: cfg.sep_token,
    additional_special_tokens: cfg.additional_special_tokens,
  };
}

const json = (v: unknown): string => `${JSON.stringify(v, null, 2)}\n`;

export async function generateTokenizer(outDir: string, opts: GenerateTokenizerOptions): Promise<GeneratedTokenizer> {
  const formats = opts.formats ?? ['sentencepiece', 'json'];
  if (formats.length === 0) throw new RangeError('generateTokenizer: formats must name at least one format');
  const vocab = buildGeneratedVocab(opts.vocabSize, opts.seed ?? 0, opts.extraPieces ?? []);
  await mkdir(outDir, { recursive: true });

  const outputs: Array<[string, string | Uint8Array]> = [];
  if (formats.includes('sentencepiece')) outputs.push([SENTENCEPIECE_FILE, sentencePieceBytes(vocab)]);
  if (formats.includes('json')) outputs.push([TOKENIZER_JSON_FILE, tokenizerJson(vocab)]);
  outputs.push(['tokenizer_config.json', json(tokenizerConfig(vocab))]);
  outputs.push(['special_tokens_map.json', json(specialTokensMap(vocab))]);
  for (const [name, data] of outputs) await writeFile(join(outDir, name), data);

  const specialTokens: Record<string, number> = {};
  ERNIE_SPECIAL_TOKENS.forEach((s, id) => (specialTokens[s.content] = id));
  return {
    vocabSize: vocab.pieces.length,
    learnedPieces: vocab.learned,
    files: outputs.map(([name]) => name),
    bosId: specialTokens[BOS]!,
    eosId: specialTokens[EOS]!,
    padId: specialTokens[UNK]!,
    unkId: specialTokens[UNK]!,
    specialTokens,
    extraPieces: Object.fromEntries(vocab.extraIds),
  };
}
