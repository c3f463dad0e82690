import type { Grammar } from './grammar.js';
import { lit, optional, ref, seq } from './expr-builders.js';

/** Rule names with a prefix no JSON-pointer rule name (`#/…`) or json.* rule can take. */
const REASONING_ROOT = 'reasoning.root';
const THINK_CLOSE = '</think>';

/**
 * `g` after a reasoning block: with thinking on, the prompt ends in "<think>\n", so the model
 * first writes free text up to "</think>" (the reasoning the client gets as reasoning_content),
 * then the constrained reply. Constraining from the first token instead would put the whole
 * reply into reasoning_content and leave the content empty. The max_tokens budget still holds:
 * the shortest completion from inside the reasoning is "</think>" plus the shortest reply.
 */
export function afterReasoning(g: Grammar): Grammar {
  return {
    root: REASONING_ROOT,
    rules: {
      ...g.rules,
      [REASONING_ROOT]: seq({ k: 'without', text: THINK_CLOSE }, lit(THINK_CLOSE), optional(lit('\n\n')), ref(g.root)),
    },
  };
}
