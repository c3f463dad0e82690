import { CompiledGrammar, grammarKey } from './compile.js';
import { GrammarState, TokenMasker } from './token-mask.js';
import { GrammarError } from './validate-grammar.js';
import { VocabTrie, type TokenVocabulary } from './vocab-trie.js';

/** Compiled grammars kept per worker; a grammar's token masks fill in lazily as requests use it. */
const DEFAULT_CAPACITY = 64;

/**
 * Where a worker turns the grammar text a request carries into per-request grammar states. One
 * compiled grammar (and its cached masks) serves every request with the same schema: the key is
 * a hash of the text, so equal schemas from any gateway share it.
 */
export class GrammarCache {
  private readonly trie: VocabTrie;
  private readonly maskers = new Map<string, TokenMasker>();

  constructor(
    readonly vocab: TokenVocabulary,
    private readonly capacity = DEFAULT_CAPACITY,
  ) {
    this.trie = new VocabTrie(vocab);
  }

  /** A fresh state at the start of `text`'s grammar. Throws GrammarError for a malformed grammar. */
  start(text: string, endIds: readonly number[]): GrammarState {
    return new GrammarState(this.masker(text), endIds);
  }

  get size(): number {
    return this.maskers.size;
  }

  private masker(text: string): TokenMasker {
    const key = grammarKey(text);
    let m = this.maskers.get(key);
    if (m) {
      // Most recently used last, so the first entry is the one to evict.
      this.maskers.delete(key);
      this.maskers.set(key, m);
      return m;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new GrammarError('the grammar is not valid JSON');
    }
    m = new TokenMasker(new CompiledGrammar(parsed as never), this.vocab, this.trie);
    this.maskers.set(key, m);
    if (this.maskers.size > this.capacity) this.maskers.delete(this.maskers.keys().next().value!);
    return m;
  }
}
