import { createHash } from 'node:crypto';
import type { Grammar } from './grammar.js';
import { Matcher } from './matcher.js';
import { buildNfa } from './nfa.js';
import { validateGrammar } from './validate-grammar.js';

/** The canonical wire text of a grammar (what travels with a request) and its cache key. */
export function grammarText(g: Grammar): string {
  return JSON.stringify(g);
}

export function grammarKey(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 32);
}

/** A grammar ready to match bytes: validated, built into an automaton, with its byte-level matcher. */
export class CompiledGrammar {
  readonly matcher: Matcher;

  constructor(readonly grammar: Grammar) {
    this.matcher = new Matcher(buildNfa(validateGrammar(grammar)));
  }

  /** True when the UTF-8 bytes of `text` are one full sentence of the grammar. */
  acceptsText(text: string): boolean {
    return this.matcher.walk(this.matcher.initial, Buffer.from(text, 'utf8'))?.accepting ?? false;
  }

  /** True when `text` can be continued into a sentence (a prefix of one, possibly complete). */
  acceptsPrefix(text: string): boolean {
    return this.matcher.walk(this.matcher.initial, Buffer.from(text, 'utf8')) !== null;
  }

  /** Fewest bytes needed to finish a sentence from the start. */
  get minLength(): number {
    return this.matcher.initial.dist;
  }
}

export function compileGrammar(g: Grammar): CompiledGrammar {
  return new CompiledGrammar(g);
}
