import type { Expr } from './grammar.js';

/**
 * Small constructors for grammar expressions, so builders read like the grammar they build.
 * `NEVER` (an alt with no items) matches nothing; it only exists while a grammar is being built:
 * pruneGrammar removes it before a grammar leaves the builder (the IR requires alt items).
 */
export const NEVER: Expr = Object.freeze({ k: 'alt', items: [] }) as Expr;

export const lit = (text: string): Expr => ({ k: 'lit', text });
export const ref = (rule: string): Expr => ({ k: 'ref', rule });
export const seq = (...items: Expr[]): Expr => ({ k: 'seq', items });
export const alt = (...items: Expr[]): Expr => ({ k: 'alt', items });
/** `e` or nothing. */
export const optional = (e: Expr): Expr => alt(e, lit(''));

/** Number of expression nodes in `e`, as GRAMMAR_LIMITS.maxNodes counts them. */
export function countNodes(e: Expr): number {
  switch (e.k) {
    case 'seq':
    case 'alt':
      return e.items.reduce((n, it) => n + countNodes(it), 1);
    case 'repeat':
      return 1 + countNodes(e.item) + (e.sep ? countNodes(e.sep) : 0);
    default:
      return 1;
  }
}

/**
 * Rough size of `e` once a matcher has unrolled it: bounded repeats and length-bounded strings
 * are unrolled (a string of at most n characters is about n copies of one character's
 * automaton). Builders use it to decide what to put in a shared rule rather than copy.
 */
export function unrolledSize(e: Expr): number {
  switch (e.k) {
    case 'seq':
    case 'alt':
      return e.items.reduce((n, it) => n + unrolledSize(it), 1);
    case 'repeat': {
      const copies = Math.max(1, e.max ?? e.min);
      return 1 + copies * unrolledSize(e.item) + (e.sep ? copies * unrolledSize(e.sep) : 0);
    }
    case 'string':
      return 1 + (e.maxLength ?? e.minLength ?? 1) * 4;
    default:
      return 1;
  }
}
