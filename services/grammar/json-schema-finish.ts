import { apiError } from '../common/errors/index.js';
import { GRAMMAR_LIMITS, type Grammar } from './grammar.js';
import { countNodes } from './expr-builders.js';
import { findLeftRecursion } from './left-recursion.js';
import { pruneGrammar } from './prune-grammar.js';

/**
 * The last step of compiling schemas: drops what can never finish, then refuses a grammar whose
 * schema roots (one per document: a response format, or each tool's parameters) cannot finish,
 * that loops without consuming input, or that exceeds GRAMMAR_LIMITS.
 */
export function finishSchemaGrammar(g: Grammar, roots: Array<{ rule: string; param: string }>): Grammar {
  const { grammar, unproductive } = pruneGrammar(g);
  const defs = unproductive.filter((r) => !roots.some((root) => root.rule === r) && r.includes('#/'));
  const why = defs.length > 0 ? ` (${defs.slice(0, 3).join(', ')} can never be complete)` : '';
  for (const root of roots) {
    if (unproductive.includes(root.rule)) {
      throw apiError(
        'invalid_json_schema',
        `Invalid JSON schema at '${root.param}': it has no valid instance of finite size${why}; check for "false" schemas, contradictory bounds and properties that require themselves.`,
        root.param,
      );
    }
  }
  const g2 = grammar!;
  const param = roots.length === 1 ? roots[0]!.param : undefined;
  const loop = findLeftRecursion(g2);
  if (loop) {
    throw apiError(
      'invalid_json_schema',
      `Invalid JSON schema${param ? ` at '${param}'` : ''}: "$ref"s refer back to themselves without an object or array in between (${loop.join(' → ')}).`,
      param,
    );
  }
  const rules = Object.keys(g2.rules).length;
  const nodes = Object.values(g2.rules).reduce((n, e) => n + countNodes(e), 0);
  if (rules > GRAMMAR_LIMITS.maxRules || nodes > GRAMMAR_LIMITS.maxNodes) {
    throw apiError(
      'invalid_json_schema',
      `The JSON schema${param ? ` at '${param}'` : ''} is too large to enforce: it compiles to ${nodes} grammar nodes in ${rules} rules (limits ${GRAMMAR_LIMITS.maxNodes} and ${GRAMMAR_LIMITS.maxRules}).`,
      param,
    );
  }
  return g2;
}
