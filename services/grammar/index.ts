/** Structured outputs: the grammar language, its compilers and the token masks workers apply. */
export type { Expr, Grammar } from './grammar.js';
export { GRAMMAR_LIMITS } from './grammar.js';
export { CompiledGrammar, compileGrammar, grammarKey, grammarText } from './compile.js';
export { GrammarCache } from './grammar-cache.js';
export { GrammarState, TokenMasker } from './token-mask.js';
export { GrammarError, validateGrammar } from './validate-grammar.js';
export { VocabTrie, type TokenVocabulary } from './vocab-trie.js';
export { jsonSchemaGrammar } from './json-schema.js';
export { jsonObjectGrammar, jsonValueGrammar } from './json-value.js';
export { toolCallGrammar, type ToolSpec } from './tool-call.js';
export { afterReasoning } from './after-reasoning.js';
