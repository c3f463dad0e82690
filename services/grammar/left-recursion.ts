import type { Expr, Grammar } from './grammar.js';

/**
 * A chain of rules that call each other without consuming a byte (`a → b → a`), or undefined.
 * The grammar IR forbids left recursion; a JSON schema produces it when `$ref`s / `anyOf`s loop
 * without an object or array in between (`{"anyOf": [{"$ref": "#"}, …]}`).
 */
export function findLeftRecursion(g: Grammar): string[] | undefined {
  const nullable = nullableRules(g);
  const firstCalls = new Map<string, string[]>();
  for (const [name, body] of Object.entries(g.rules)) {
    const out: string[] = [];
    collectFirstCalls(body, nullable, out);
    firstCalls.set(name, out);
  }
  // Depth-first search for a cycle in the "calls before any byte" graph.
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (name: string): string[] | undefined => {
    if (state.get(name) === 'done') return undefined;
    if (state.get(name) === 'open') return [...stack.slice(stack.indexOf(name)), name];
    state.set(name, 'open');
    stack.push(name);
    for (const next of firstCalls.get(name) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(name, 'done');
    return undefined;
  };
  for (const name of Object.keys(g.rules)) {
    const cycle = visit(name);
    if (cycle) return cycle;
  }
  return undefined;
}

function nullableRules(g: Grammar): Set<string> {
  const nullable = new Set<string>();
  for (let changed = true; changed; ) {
    changed = false;
    for (const [name, body] of Object.entries(g.rules)) {
      if (!nullable.has(name) && isNullable(body, nullable)) {
        nullable.add(name);
        changed = true;
      }
    }
  }
  return nullable;
}

function isNullable(e: Expr, nullable: Set<string>): boolean {
  switch (e.k) {
    case 'lit':
      return e.text === '';
    case 'without':
      return true;
    case 'seq':
      return e.items.every((it) => isNullable(it, nullable));
    case 'alt':
      return e.items.some((it) => isNullable(it, nullable));
    case 'repeat':
      return e.min === 0 || (isNullable(e.item, nullable) && (e.min === 1 || !e.sep || isNullable(e.sep, nullable)));
    case 'ref':
      return nullable.has(e.rule);
    default:
      return false;
  }
}

function collectFirstCalls(e: Expr, nullable: Set<string>, out: string[]): void {
  switch (e.k) {
    case 'seq':
      for (const it of e.items) {
        collectFirstCalls(it, nullable, out);
        if (!isNullable(it, nullable)) return;
      }
      return;
    case 'alt':
      for (const it of e.items) collectFirstCalls(it, nullable, out);
      return;
    case 'repeat':
      collectFirstCalls(e.item, nullable, out);
      // An empty item lets the separator (and the next item) come first.
      if (e.sep && isNullable(e.item, nullable)) collectFirstCalls(e.sep, nullable, out);
      return;
    case 'ref':
      out.push(e.rule);
      return;
    default:
      return;
  }
}
