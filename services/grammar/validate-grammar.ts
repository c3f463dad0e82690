import { GRAMMAR_LIMITS, type Expr, type Grammar } from './grammar.js';

/** A grammar that is malformed or outside GRAMMAR_LIMITS (from a client schema or off the wire). */
export class GrammarError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GrammarError';
  }
}

const isByte = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 255;
const isCount = (v: unknown, max: number): v is number => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= max;

/**
 * Checks that `value` is a well-formed Grammar within the limits: every rule referenced exists,
 * sizes are bounded. Grammars arrive from the network (workers get them with a request), so this
 * runs before anything is built from one.
 */
export function validateGrammar(value: unknown): Grammar {
  if (typeof value !== 'object' || value === null) throw new GrammarError('a grammar must be an object');
  const g = value as Grammar;
  if (typeof g.rules !== 'object' || g.rules === null || Array.isArray(g.rules)) throw new GrammarError('grammar.rules must be an object');
  const names = Object.keys(g.rules);
  if (names.length === 0 || names.length > GRAMMAR_LIMITS.maxRules) throw new GrammarError(`a grammar has 1..${GRAMMAR_LIMITS.maxRules} rules, got ${names.length}`);
  if (typeof g.root !== 'string' || !Object.hasOwn(g.rules, g.root)) throw new GrammarError(`grammar.root '${String(g.root)}' is not a rule`);
  let nodes = 0;
  const check = (e: Expr, where: string): void => {
    if (++nodes > GRAMMAR_LIMITS.maxNodes) throw new GrammarError(`a grammar has at most ${GRAMMAR_LIMITS.maxNodes} nodes`);
    if (typeof e !== 'object' || e === null) throw new GrammarError(`${where}: not an expression`);
    switch (e.k) {
      case 'lit':
        if (typeof e.text !== 'string' || Buffer.byteLength(e.text) > GRAMMAR_LIMITS.maxLiteralBytes) throw new GrammarError(`${where}: bad literal`);
        return;
      case 'bytes':
        if (!Array.isArray(e.ranges) || e.ranges.length === 0) throw new GrammarError(`${where}: bytes needs ranges`);
        for (const r of e.ranges) {
          if (!Array.isArray(r) || !isByte(r[0]) || !isByte(r[1]) || r[0] > r[1]) throw new GrammarError(`${where}: bad byte range`);
        }
        return;
      case 'seq':
      case 'alt':
        if (!Array.isArray(e.items) || (e.k === 'alt' && e.items.length === 0)) throw new GrammarError(`${where}: ${e.k} needs items`);
        e.items.forEach((it, i) => check(it, `${where}.${i}`));
        return;
      case 'repeat':
        if (!isCount(e.min, GRAMMAR_LIMITS.maxRepeat)) throw new GrammarError(`${where}: repeat.min must be 0..${GRAMMAR_LIMITS.maxRepeat}`);
        if (e.max !== undefined && (!isCount(e.max, GRAMMAR_LIMITS.maxRepeat) || e.max < e.min)) {
          throw new GrammarError(`${where}: repeat.max must be min..${GRAMMAR_LIMITS.maxRepeat}`);
        }
        check(e.item, `${where}.item`);
        if (e.sep !== undefined) check(e.sep, `${where}.sep`);
        return;
      case 'ref':
        if (typeof e.rule !== 'string' || !Object.hasOwn(g.rules, e.rule)) throw new GrammarError(`${where}: unknown rule '${String(e.rule)}'`);
        return;
      case 'string': {
        const max = GRAMMAR_LIMITS.maxStringLength;
        if (e.minLength !== undefined && !isCount(e.minLength, max)) throw new GrammarError(`${where}: minLength must be 0..${max}`);
        if (e.maxLength !== undefined && !isCount(e.maxLength, max)) throw new GrammarError(`${where}: maxLength must be 0..${max}`);
        if ((e.minLength ?? 0) > (e.maxLength ?? max)) throw new GrammarError(`${where}: minLength > maxLength`);
        return;
      }
      case 'number':
        return;
      case 'without':
        if (typeof e.text !== 'string' || e.text.length === 0 || Buffer.byteLength(e.text) > 256) throw new GrammarError(`${where}: bad 'without' text`);
        return;
      default:
        throw new GrammarError(`${where}: unknown expression kind '${String((e as { k?: unknown }).k)}'`);
    }
  };
  for (const name of names) check(g.rules[name]!, `rules.${name}`);
  return g;
}
