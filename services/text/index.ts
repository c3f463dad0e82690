// Public API of the text layer: tokenizers, their file formats, chat templates, the
// generated tokenizer for random-weight checkpoints, and the streaming output side
// (detokenizer, stop strings, reasoning and tool-call parsers).

export type { DecodeOptions, EncodeOptions, Tokenizer } from './tokenizer.js';
export { TokenizerError } from './tokenizer.js';
export type { AddedToken } from './added-tokens.js';

export { loadTokenizer, loadTokenizerBundle, type TokenizerBundle } from './load-tokenizer.js';
export { readTokenizerConfig, templateTokens, type TokenizerConfig } from './tokenizer-config.js';

export { SentencePieceTokenizer, type SentencePieceTokenizerOptions } from './sentencepiece-tokenizer.js';
export {
  ModelType,
  PieceType,
  defaultNormalizerSpec,
  defaultTrainerSpec,
  readSentencePieceModel,
  writeSentencePieceModel,
  type NormalizerSpec,
  type SentencePiece,
  type SentencePieceModel,
  type TrainerSpec,
} from './sentencepiece-model.js';
export { SPACE_SYMBOL } from './sentencepiece-normalizer.js';

export { HfBpeTokenizer, type HfBpeTokenizerOptions } from './hf-bpe-tokenizer.js';
export {
  parseHfTokenizerJson,
  serializeHfTokenizerJson,
  type HfAddedToken,
  type HfBpeModel,
  type HfComponent,
  type HfTokenizerJson,
  type SerializeOptions,
} from './hf-tokenizer-json.js';
export { byteLevelChar, fromByteLevel, toByteLevel } from './byte-level.js';

export {
  ChatTemplate,
  ChatTemplateError,
  type ChatMessage,
  type ChatRenderOptions,
  type ContentPart,
  type TemplateTokens,
} from './chat-template.js';
export { ERNIE_CHAT_TEMPLATE } from './ernie-chat-template.js';
