import { UNREACHABLE, type Nfa } from './nfa.js';

/** A call stack of return states, shared and interned (equal stacks are the same object). */
interface Stack {
  readonly id: number;
  readonly ret: number;
  readonly parent: Stack | null;
  /** Fewest bytes to unwind the whole stack (the return states' completions). */
  readonly dist: number;
  readonly depth: number;
}

/** Deepest call nesting followed; deeper paths are dropped (only recursive schemas get near it). */
const MAX_DEPTH = 256;

/**
 * Where the parse can be after some bytes: the consuming NFA states (each with its call stack)
 * and whether a complete sentence ends here. Interned per grammar, so a state set is also the
 * cache slot for its successors and its token mask.
 */
export class StateSet {
  /** Successor per byte: undefined = not computed yet, null = dead. */
  readonly next: Array<StateSet | null | undefined> = new Array(256);
  /** Slot for the token-level layer (token-mask.ts) to cache this set's mask in. */
  mask: unknown;

  constructor(
    readonly id: number,
    readonly states: Int32Array,
    readonly stacks: ReadonlyArray<Stack | null>,
    /** A full sentence ends here: generation may stop. */
    readonly accepting: boolean,
    /** Fewest further bytes to a full sentence (0 when accepting). */
    readonly dist: number,
  ) {}

  /** Nothing more can follow: the sentence is complete and cannot be extended. */
  get complete(): boolean {
    return this.accepting && this.states.length === 0;
  }
}

/** Runs an Nfa over bytes: closure, stepping and interning of state sets. */
export class Matcher {
  private readonly stacks = new Map<string, Stack>();
  private readonly sets = new Map<string, StateSet>();
  private nextStackId = 1;
  readonly initial: StateSet;

  constructor(readonly nfa: Nfa) {
    this.initial = this.close([[nfa.ruleStart[nfa.rootRule]!, null]]);
  }

  /** Distinct state sets built so far (a measure of how much is cached). */
  get size(): number {
    return this.sets.size;
  }

  /** The set after one more byte, or null when the byte is not allowed. */
  step(set: StateSet, byte: number): StateSet | null {
    const cached = set.next[byte];
    if (cached !== undefined) return cached;
    const seeds: Array<[number, Stack | null]> = [];
    const { edges } = this.nfa;
    for (let i = 0; i < set.states.length; i++) {
      const e = edges[set.states[i]!]!;
      for (let j = 0; j < e.length; j += 3) {
        if (byte >= e[j]! && byte <= e[j + 1]!) seeds.push([e[j + 2]!, set.stacks[i]!]);
      }
    }
    const result = seeds.length === 0 ? null : this.close(seeds);
    const out = result && (result.states.length > 0 || result.accepting) ? result : null;
    set.next[byte] = out;
    return out;
  }

  /** The set after `bytes`, or null if some byte is not allowed. */
  walk(set: StateSet, bytes: ArrayLike<number>): StateSet | null {
    let s: StateSet | null = set;
    for (let i = 0; i < bytes.length && s; i++) s = this.step(s, bytes[i]!);
    return s;
  }

  private push(ret: number, parent: Stack | null): Stack | undefined {
    const depth = (parent?.depth ?? 0) + 1;
    if (depth > MAX_DEPTH) return undefined;
    const key = `${ret}:${parent?.id ?? 0}`;
    let s = this.stacks.get(key);
    if (!s) {
      const d = this.nfa.dist[ret]! + (parent?.dist ?? 0);
      s = { id: this.nextStackId++, ret, parent, dist: Math.min(d, UNREACHABLE), depth };
      this.stacks.set(key, s);
    }
    return s;
  }

  /** Epsilon closure (through calls and returns) of `seeds`, interned. */
  private close(seeds: Array<[number, Stack | null]>): StateSet {
    const { eps, edges, callRule, callReturn, isEnd, ruleStart, dist } = this.nfa;
    const seen = new Set<string>();
    const found: Array<[number, Stack | null]> = [];
    let accepting = false;
    const work = seeds.slice();
    while (work.length > 0) {
      const [s, stack] = work.pop()!;
      const key = `${s}:${stack?.id ?? 0}`;
      if (seen.has(key)) continue;
      seen.add(key);
      if (edges[s]!.length > 0) found.push([s, stack]);
      for (const t of eps[s]!) work.push([t, stack]);
      const r = callRule[s]!;
      if (r >= 0) {
        const pushed = this.push(callReturn[s]!, stack);
        if (pushed) work.push([ruleStart[r]!, pushed]);
      }
      if (isEnd[s]) {
        if (stack === null) accepting = true;
        else work.push([stack.ret, stack.parent]);
      }
    }
    found.sort((a, b) => a[0] - b[0] || (a[1]?.id ?? 0) - (b[1]?.id ?? 0));
    const setKey = (accepting ? 'A' : '') + found.map(([s, k]) => `${s}:${k?.id ?? 0}`).join(',');
    let set = this.sets.get(setKey);
    if (!set) {
      let best = accepting ? 0 : UNREACHABLE;
      for (const [s, k] of found) best = Math.min(best, dist[s]! + (k?.dist ?? 0));
      set = new StateSet(this.sets.size, Int32Array.from(found, (f) => f[0]), found.map((f) => f[1]), accepting, Math.min(best, UNREACHABLE));
      this.sets.set(setKey, set);
    }
    return set;
  }
}
