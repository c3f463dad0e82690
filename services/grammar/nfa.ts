import type { Expr, Grammar } from './grammar.js';
import { GrammarError } from './validate-grammar.js';

/**
 * A grammar as a recursive byte automaton: one Thompson NFA per rule, where a `ref` is a call
 * state (push the return state, jump to the rule's start) and each rule has one end state (pop).
 * Plain arrays indexed by state id, so stepping is a few array reads.
 */
export interface Nfa {
  /** Consuming edges of each state: flat triples [lo, hi, to, lo, hi, to, ...]. */
  readonly edges: number[][];
  /** Epsilon successors of each state. */
  readonly eps: number[][];
  /** For a call state: the rule it calls, else -1. */
  readonly callRule: Int32Array;
  /** For a call state: where to continue after the rule ends. */
  readonly callReturn: Int32Array;
  /** For a rule's end state: 1, else 0. */
  readonly isEnd: Uint8Array;
  readonly ruleStart: number[];
  readonly rootRule: number;
  /**
   * Fewest bytes from each state to the end of its rule (calls included); a large sentinel
   * (UNREACHABLE) when no finite completion exists.
   */
  readonly dist: Int32Array;
}

export const UNREACHABLE = 0x3fffffff;

const HEX: Array<[number, number]> = [[0x30, 0x39], [0x41, 0x46], [0x61, 0x66]];
const CONT: Expr = { k: 'bytes', ranges: [[0x80, 0xbf]] };

const bytes = (...ranges: Array<[number, number]>): Expr => ({ k: 'bytes', ranges });
const seqOf = (...items: Expr[]): Expr => ({ k: 'seq', items });

/**
 * One well-formed UTF-8 sequence beyond ASCII (RFC 3629: no overlongs, no surrogates, nothing
 * past U+10FFFF), so the decoded text has exactly one character per sequence and string length
 * bounds count what JSON Schema counts.
 */
const UTF8_MULTIBYTE: Expr = {
  k: 'alt',
  items: [
    seqOf(bytes([0xc2, 0xdf]), CONT),
    seqOf(bytes([0xe0, 0xe0]), bytes([0xa0, 0xbf]), CONT),
    seqOf(bytes([0xe1, 0xec], [0xee, 0xef]), CONT, CONT),
    seqOf(bytes([0xed, 0xed]), bytes([0x80, 0x9f]), CONT),
    seqOf(bytes([0xf0, 0xf0]), bytes([0x90, 0xbf]), CONT, CONT),
    seqOf(bytes([0xf1, 0xf3]), CONT, CONT, CONT),
    seqOf(bytes([0xf4, 0xf4]), bytes([0x80, 0x8f]), CONT, CONT),
  ],
};

/** `\uXXXX` outside the surrogate range D800-DFFF (a pair would be one character in JSON Schema, two escapes here). */
const UNICODE_ESCAPE: Expr = seqOf(
  { k: 'lit', text: 'u' },
  {
    k: 'alt',
    items: [
      seqOf(bytes([0x30, 0x39], [0x41, 0x43], [0x61, 0x63], [0x45, 0x46], [0x65, 0x66]), bytes(...HEX)),
      seqOf(bytes([0x44, 0x44], [0x64, 0x64]), bytes([0x30, 0x37])),
    ],
  },
  bytes(...HEX),
  bytes(...HEX),
);

/** One character inside a JSON string literal: plain UTF-8 (no `"`, `\` or controls) or an escape. */
const STRING_CHAR: Expr = {
  k: 'alt',
  items: [
    bytes([0x20, 0x21], [0x23, 0x5b], [0x5d, 0x7f]),
    seqOf({ k: 'lit', text: '\\' }, { k: 'alt', items: [bytes([0x22, 0x22], [0x2f, 0x2f], [0x5c, 0x5c], [0x62, 0x62], [0x66, 0x66], [0x6e, 0x6e], [0x72, 0x72], [0x74, 0x74]), UNICODE_ESCAPE] }),
    UTF8_MULTIBYTE,
  ],
};

const DIGIT: Expr = { k: 'bytes', ranges: [[0x30, 0x39]] };
const digits = (min: number, max: number): Expr => ({ k: 'repeat', item: DIGIT, min, max });
const optional = (e: Expr): Expr => ({ k: 'repeat', item: e, min: 0, max: 1 });

const INTEGER: Expr = {
  k: 'seq',
  items: [
    optional({ k: 'lit', text: '-' }),
    { k: 'alt', items: [{ k: 'lit', text: '0' }, { k: 'seq', items: [{ k: 'bytes', ranges: [[0x31, 0x39]] }, digits(0, 14)] }] },
  ],
};
const NUMBER: Expr = {
  k: 'seq',
  items: [
    INTEGER,
    optional({ k: 'seq', items: [{ k: 'lit', text: '.' }, digits(1, 15)] }),
    optional({ k: 'seq', items: [{ k: 'bytes', ranges: [[0x45, 0x45], [0x65, 0x65]] }, optional({ k: 'bytes', ranges: [[0x2b, 0x2b], [0x2d, 0x2d]] }), digits(1, 2)] }),
  ],
};

/** Bytes a `without` automaton lets through: tab, newline, carriage return and everything from space up. */
const TEXT_BYTES: Array<[number, number]> = [[0x09, 0x0a], [0x0d, 0x0d], [0x20, 0xff]];

class Builder {
  edges: number[][] = [];
  eps: number[][] = [];
  callRule: number[] = [];
  callReturn: number[] = [];
  isEnd: number[] = [];

  constructor(private readonly ruleIndex: Map<string, number>) {}

  state(): number {
    this.edges.push([]);
    this.eps.push([]);
    this.callRule.push(-1);
    this.callReturn.push(-1);
    this.isEnd.push(0);
    return this.edges.length - 1;
  }

  epsilon(from: number, to: number): void {
    this.eps[from]!.push(to);
  }

  edge(from: number, lo: number, hi: number, to: number): void {
    this.edges[from]!.push(lo, hi, to);
  }

  /** Adds states so that the sentences of `e` lead from `from` to `to`. */
  build(e: Expr, from: number, to: number): void {
    switch (e.k) {
      case 'lit': {
        const bytes = Buffer.from(e.text, 'utf8');
        if (bytes.length === 0) return this.epsilon(from, to);
        let cur = from;
        bytes.forEach((b, i) => {
          const next = i === bytes.length - 1 ? to : this.state();
          this.edge(cur, b, b, next);
          cur = next;
        });
        return;
      }
      case 'bytes':
        for (const [lo, hi] of e.ranges) this.edge(from, lo, hi, to);
        return;
      case 'seq': {
        if (e.items.length === 0) return this.epsilon(from, to);
        let cur = from;
        e.items.forEach((item, i) => {
          const next = i === e.items.length - 1 ? to : this.state();
          this.build(item, cur, next);
          cur = next;
        });
        return;
      }
      case 'alt':
        for (const item of e.items) {
          // A private entry per alternative keeps one alternative's loops out of the others.
          const s = this.state();
          this.epsilon(from, s);
          this.build(item, s, to);
        }
        return;
      case 'repeat':
        return this.repeat(e.item, e.min, e.max, e.sep, from, to);
      case 'ref': {
        const c = this.state();
        this.epsilon(from, c);
        this.callRule[c] = this.ruleIndex.get(e.rule)!;
        this.callReturn[c] = to;
        return;
      }
      case 'string': {
        const body: Expr = e.minLength === undefined && e.maxLength === undefined
          ? { k: 'repeat', item: STRING_CHAR, min: 0 }
          : { k: 'repeat', item: STRING_CHAR, min: e.minLength ?? 0, max: e.maxLength };
        return this.build({ k: 'seq', items: [{ k: 'lit', text: '"' }, body, { k: 'lit', text: '"' }] }, from, to);
      }
      case 'number':
        return this.build(e.integer ? INTEGER : NUMBER, from, to);
      case 'without':
        return this.without(Buffer.from(e.text, 'utf8'), from, to);
    }
  }

  /** `item` min..max times (max undefined: unbounded) with `sep` between repetitions. */
  private repeat(item: Expr, min: number, max: number | undefined, sep: Expr | undefined, from: number, to: number): void {
    if (max === 0) return this.epsilon(from, to);
    // The first item, then (sep item) for each further one: "after k items" states are chained.
    let cur = from;
    let count = 0;
    const appendOne = (): void => {
      const afterSep = count > 0 && sep ? this.state() : cur;
      if (count > 0 && sep) this.build(sep, cur, afterSep);
      const next = this.state();
      this.build(item, afterSep, next);
      cur = next;
      count++;
    };
    if (min === 0) {
      this.epsilon(from, to); // zero items
    }
    for (let i = 0; i < Math.max(min, 1); i++) appendOne();
    if (max === undefined) {
      // Loop: after any number >= max(min, 1) of items, (sep item) again or leave.
      const loopEntry = cur;
      const afterSep = sep ? this.state() : loopEntry;
      if (sep) this.build(sep, loopEntry, afterSep);
      this.build(item, afterSep, loopEntry);
      this.epsilon(loopEntry, to);
      return;
    }
    this.epsilon(cur, to);
    while (count < max) {
      appendOne();
      this.epsilon(cur, to);
    }
  }

  /** Text over TEXT_BYTES in which `pattern` never occurs: the KMP automaton minus its match state. */
  private without(pattern: Buffer, from: number, to: number): void {
    const m = pattern.length;
    const fail = new Int32Array(m);
    for (let i = 1, k = 0; i < m; i++) {
      while (k > 0 && pattern[i] !== pattern[k]) k = fail[k - 1]!;
      if (pattern[i] === pattern[k]) k++;
      fail[i] = k;
    }
    const next = (j: number, b: number): number => {
      while (j > 0 && pattern[j] !== b) j = fail[j - 1]!;
      return pattern[j] === b ? j + 1 : 0;
    };
    const states = Array.from({ length: m }, (_, j) => (j === 0 ? from : this.state()));
    for (let j = 0; j < m; j++) {
      const s = states[j]!;
      this.epsilon(s, to);
      // Successor per byte (-1: not allowed, or it would complete the pattern), then one edge per run.
      const target = new Int32Array(256);
      for (let b = 0; b < 256; b++) {
        const allowed = TEXT_BYTES.some(([lo, hi]) => b >= lo && b <= hi);
        const n = allowed ? next(j, b) : m;
        target[b] = n === m ? -1 : n;
      }
      for (let lo = 0; lo < 256; ) {
        let hi = lo;
        while (hi + 1 < 256 && target[hi + 1] === target[lo]) hi++;
        if (target[lo]! >= 0) this.edge(s, lo, hi, states[target[lo]!]!);
        lo = hi + 1;
      }
    }
  }
}

/** Fewest bytes from each state to its rule's end, by relaxation to a fixed point. */
function shortestCompletions(b: Builder, ruleStart: number[]): Int32Array {
  const n = b.edges.length;
  const dist = new Int32Array(n).fill(UNREACHABLE);
  for (let s = 0; s < n; s++) if (b.isEnd[s]) dist[s] = 0;
  for (let changed = true; changed; ) {
    changed = false;
    for (let s = n - 1; s >= 0; s--) {
      let best = dist[s]!;
      for (const t of b.eps[s]!) if (dist[t]! < best) best = dist[t]!;
      const e = b.edges[s]!;
      for (let i = 0; i < e.length; i += 3) if (dist[e[i + 2]!]! + 1 < best) best = dist[e[i + 2]!]! + 1;
      const r = b.callRule[s]!;
      if (r >= 0) {
        const via = dist[ruleStart[r]!]! + dist[b.callReturn[s]!]!;
        if (via < best) best = via;
      }
      if (best < dist[s]!) {
        dist[s] = best;
        changed = true;
      }
    }
  }
  for (let s = 0; s < n; s++) if (dist[s]! >= UNREACHABLE) dist[s] = UNREACHABLE;
  return dist;
}

/** Builds the automaton of a (validated) grammar. Throws GrammarError if the root has no finite sentence. */
export function buildNfa(g: Grammar): Nfa {
  const names = Object.keys(g.rules);
  const ruleIndex = new Map(names.map((n, i) => [n, i]));
  const b = new Builder(ruleIndex);
  const ruleStart: number[] = [];
  const ruleEnd: number[] = [];
  for (let i = 0; i < names.length; i++) {
    ruleStart.push(b.state());
    ruleEnd.push(b.state());
    b.isEnd[ruleEnd[i]!] = 1;
  }
  names.forEach((name, i) => b.build(g.rules[name]!, ruleStart[i]!, ruleEnd[i]!));
  const dist = shortestCompletions(b, ruleStart);
  const rootRule = ruleIndex.get(g.root)!;
  if (dist[ruleStart[rootRule]!]! >= UNREACHABLE) throw new GrammarError(`the grammar's root rule '${g.root}' has no finite sentence`);
  return {
    edges: b.edges,
    eps: b.eps,
    callRule: Int32Array.from(b.callRule),
    callReturn: Int32Array.from(b.callReturn),
    isEnd: Uint8Array.from(b.isEnd),
    ruleStart,
    rootRule,
    dist,
  };
}
