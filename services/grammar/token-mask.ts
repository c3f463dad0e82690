import type { CompiledGrammar } from './compile.js';
import type { Matcher, StateSet } from './matcher.js';
import type { TokenVocabulary, VocabTrie } from './vocab-trie.js';

/**
 * The tokens a grammar allows after some output, computed once per parse state and cached on it.
 * `need[i]` is how many more tokens the output needs, at least, after `tokens[i]` (bytes of the
 * shortest completion, each a single-byte token in a byte-fallback vocabulary, plus the EOS),
 * which is what lets the mask keep every output finishable within max_tokens.
 */
interface Mask {
  tokens: Int32Array;
  need: Int32Array;
  maxNeed: number;
  minNeed: number;
  /**
   * When most of the vocabulary is allowed (inside a string): the ids below the vocabulary size
   * that are not, so applying the mask is a copy plus a few writes instead of a scatter of ~all.
   */
  banned?: Int32Array;
}

/** Tokens still needed after reaching `s`: none when nothing can follow, else its completion plus EOS. */
function needAfter(s: StateSet): number {
  return s.complete ? 0 : s.dist + 1;
}

/** Grammar × vocabulary: token masks for any parse state of one grammar. */
export class TokenMasker {
  readonly matcher: Matcher;

  constructor(readonly grammar: CompiledGrammar, readonly vocab: TokenVocabulary, readonly trie: VocabTrie) {
    this.matcher = grammar.matcher;
  }

  maskOf(set: StateSet): Mask {
    if (set.mask) return set.mask as Mask;
    const tokens: number[] = [];
    const ends: StateSet[] = [];
    // `ends` only feeds `need`; the mask keeps numbers, not the sets.
    const { childStart, childByte, childNode, tokenStart, tokenIds } = this.trie;
    const matcher = this.matcher;
    const visit = (node: number, s: StateSet): void => {
      for (let c = childStart[node]!; c < childStart[node + 1]!; c++) {
        const next = matcher.step(s, childByte[c]!);
        if (next === null) continue;
        const child = childNode[c]!;
        for (let t = tokenStart[child]!; t < tokenStart[child + 1]!; t++) {
          tokens.push(tokenIds[t]!);
          ends.push(next);
        }
        visit(child, next);
      }
    };
    visit(0, set);
    const need = Int32Array.from(ends, needAfter);
    let maxNeed = 0;
    let minNeed = Number.MAX_SAFE_INTEGER;
    for (const n of need) {
      if (n > maxNeed) maxNeed = n;
      if (n < minNeed) minNeed = n;
    }
    const mask: Mask = { tokens: Int32Array.from(tokens), need, maxNeed, minNeed };
    const size = this.vocab.size;
    if (tokens.length > size / 2) {
      const allowed = new Uint8Array(size);
      for (const t of tokens) allowed[t] = 1;
      const banned: number[] = [];
      for (let id = 0; id < size; id++) if (allowed[id] === 0) banned.push(id);
      mask.banned = Int32Array.from(banned);
    }
    set.mask = mask;
    return mask;
  }
}

/**
 * One request's position in its grammar: which tokens may come next, advanced by each token the
 * request produces. A pure function of the tokens fed in, so replaying a request's tokens (after
 * migration or a router restart) gives back the same state.
 */
export class GrammarState {
  private set: StateSet;

  constructor(
    private readonly masker: TokenMasker,
    /** Tokens that end the output (EOS and stop ids): allowed only where a sentence is complete. */
    private readonly endIds: readonly number[],
  ) {
    this.set = masker.matcher.initial;
  }

  /** The output is a full sentence that nothing can extend: generation is over. */
  get complete(): boolean {
    return this.set.complete;
  }

  get accepting(): boolean {
    return this.set.accepting;
  }

  /** Fewest further tokens this output needs to end (its shortest completion's bytes, plus the EOS). */
  get need(): number {
    return needAfter(this.set);
  }

  /**
   * Writes `logits` into `out` with every token the grammar forbids set to -Infinity. `remaining`
   * counts the tokens the request may still produce, this one included: tokens after which the
   * shortest completion would not fit are forbidden too; if none fits, only the tokens that
   * shorten the completion most are left (the output then ends at max_tokens, unfinished).
   */
  apply(logits: Float32Array, remaining: number, out: Float32Array): void {
    const m = this.masker.maskOf(this.set);
    const room = remaining - 1;
    const n = Math.min(logits.length, out.length);
    if (m.maxNeed <= room && m.banned) {
      // Most tokens allowed and all of them fit: copy, then knock out the few that are not.
      out.set(n === logits.length ? logits : logits.subarray(0, n));
      for (const t of m.banned) if (t < n) out[t] = -Infinity;
      for (let t = this.masker.vocab.size; t < n; t++) out[t] = -Infinity;
    } else {
      out.fill(-Infinity);
      // Where the output may end here, ending always fits: the fallback is only for when nothing does.
      const somethingFits = m.minNeed <= room || this.set.accepting;
      const limit = m.maxNeed <= room ? Infinity : somethingFits ? room : m.minNeed;
      const { tokens, need } = m;
      for (let i = 0; i < tokens.length; i++) {
        const t = tokens[i]!;
        if (need[i]! <= limit && t < n) out[t] = logits[t]!;
      }
    }
    // End tokens (EOS, stop ids) end the output: allowed exactly where a sentence is complete.
    const endValue = (t: number): number => (this.set.accepting ? logits[t]! : -Infinity);
    for (const t of this.endIds) if (t < n) out[t] = endValue(t);
  }

  /** Feeds one produced token. Throws if the grammar does not allow it here. */
  advance(tokenId: number): void {
    if (this.endIds.includes(tokenId)) {
      if (!this.set.accepting) throw new RangeError(`token ${tokenId} ends the output before the grammar is complete`);
      return;
    }
    const bytes = tokenId < this.masker.vocab.size ? this.masker.vocab.bytes(tokenId) : new Uint8Array(0);
    const next = bytes.length === 0 ? null : this.masker.matcher.walk(this.set, bytes);
    if (next === null) throw new RangeError(`token ${tokenId} is not allowed by the grammar here`);
    this.set = next;
  }
}
