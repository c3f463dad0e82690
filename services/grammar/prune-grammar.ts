import { GRAMMAR_LIMITS, type Expr, type Grammar } from './grammar.js';
import { lit, optional } from './expr-builders.js';

/**
 * Removes everything from a grammar that cannot end in a finite sentence: `NEVER` (empty alts,
 * from contradictory schemas), rules that only ever recurse (a JSON schema property that requires
 * itself), and whatever depends on them. An alternative that cannot finish is dropped, an optional
 * part that cannot finish becomes absent, a sequence with a part that cannot finish cannot finish.
 *
 * Builders may thus emit contradictions locally and let this pass work out what survives: the
 * result has no empty alts, only productive rules reachable from the root, and `root` undefined
 * when the root itself can produce nothing.
 */
export function pruneGrammar(g: Grammar): { grammar?: Grammar; unproductive: string[] } {
  const productive = productiveRules(g);
  const unproductive = Object.keys(g.rules).filter((r) => !productive.has(r));
  if (!productive.has(g.root)) return { unproductive };
  const rules: Record<string, Expr> = {};
  const pending = [g.root];
  // Only rules still reachable after pruning are kept (an alternative that went away may have
  // been the only caller of a rule).
  while (pending.length > 0) {
    const name = pending.pop()!;
    if (Object.hasOwn(rules, name)) continue;
    const body = pruneExpr(g.rules[name]!, productive)!;
    rules[name] = body;
    forEachRef(body, (r) => {
      if (!Object.hasOwn(rules, r)) pending.push(r);
    });
  }
  return { grammar: { rules: orderLike(g.rules, rules), root: g.root }, unproductive };
}

/** Keeps the builder's rule order (root first), which makes grammars easier to read and diff. */
function orderLike(original: Record<string, Expr>, kept: Record<string, Expr>): Record<string, Expr> {
  const out: Record<string, Expr> = {};
  for (const name of Object.keys(original)) if (Object.hasOwn(kept, name)) out[name] = kept[name]!;
  return out;
}

/** Least fixed point: a rule is productive once its body can finish given the rules known so. */
function productiveRules(g: Grammar): Set<string> {
  const productive = new Set<string>();
  for (let changed = true; changed; ) {
    changed = false;
    for (const [name, body] of Object.entries(g.rules)) {
      if (!productive.has(name) && canFinish(body, productive)) {
        productive.add(name);
        changed = true;
      }
    }
  }
  return productive;
}

function canFinish(e: Expr, productive: Set<string>): boolean {
  switch (e.k) {
    case 'bytes':
      return e.ranges.length > 0;
    case 'string':
      return (e.minLength ?? 0) <= (e.maxLength ?? GRAMMAR_LIMITS.maxStringLength);
    case 'seq':
      return e.items.every((it) => canFinish(it, productive));
    case 'alt':
      return e.items.some((it) => canFinish(it, productive));
    case 'repeat':
      if (e.min === 0) return true;
      return canFinish(e.item, productive) && (e.min === 1 || e.sep === undefined || canFinish(e.sep, productive));
    case 'ref':
      return productive.has(e.rule);
    default:
      return true;
  }
}

/** `e` without its unfinishable parts, or undefined when `e` itself cannot finish. */
function pruneExpr(e: Expr, productive: Set<string>): Expr | undefined {
  switch (e.k) {
    case 'seq': {
      const items: Expr[] = [];
      for (const it of e.items) {
        const p = pruneExpr(it, productive);
        if (p === undefined) return undefined;
        appendToSeq(items, p);
      }
      if (items.length === 0) return lit('');
      return items.length === 1 ? items[0] : { k: 'seq', items };
    }
    case 'alt': {
      const items: Expr[] = [];
      for (const it of e.items) {
        const p = pruneExpr(it, productive);
        if (p === undefined) continue;
        if (p.k === 'alt') items.push(...p.items);
        else items.push(p);
      }
      if (items.length === 0) return undefined;
      return items.length === 1 ? items[0] : { k: 'alt', items };
    }
    case 'repeat': {
      const max = e.max;
      const item = pruneExpr(e.item, productive);
      if (item === undefined || max === 0) return e.min === 0 ? lit('') : undefined;
      if (e.sep === undefined) return { ...e, item };
      const sep = pruneExpr(e.sep, productive);
      if (sep !== undefined) return { ...e, item, sep };
      // No separator can be written, so at most one item can.
      if (e.min > 1) return undefined;
      return e.min === 0 ? optional(item) : item;
    }
    default:
      return canFinish(e, productive) ? e : undefined;
  }
}

/** Flattens nested sequences, drops empty literals and joins adjacent literals (within the limit). */
function appendToSeq(items: Expr[], e: Expr): void {
  if (e.k === 'seq') {
    for (const it of e.items) appendToSeq(items, it);
    return;
  }
  if (e.k === 'lit' && e.text === '') return;
  const last = items[items.length - 1];
  if (e.k === 'lit' && last?.k === 'lit' && Buffer.byteLength(last.text + e.text) <= GRAMMAR_LIMITS.maxLiteralBytes) {
    items[items.length - 1] = lit(last.text + e.text);
    return;
  }
  items.push(e);
}

export function forEachRef(e: Expr, visit: (rule: string) => void): void {
  switch (e.k) {
    case 'seq':
    case 'alt':
      for (const it of e.items) forEachRef(it, visit);
      return;
    case 'repeat':
      forEachRef(e.item, visit);
      if (e.sep) forEachRef(e.sep, visit);
      return;
    case 'ref':
      visit(e.rule);
      return;
    default:
      return;
  }
}
