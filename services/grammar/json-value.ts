import type { Expr, Grammar } from './grammar.js';
import { alt, lit, ref, seq } from './expr-builders.js';

/**
 * "Any JSON value", compact (no whitespace), as three mutually recursive rules. Other grammars
 * (a schema's `{}` / `true`, a tool without parameters) add these rules and `ref` them; the names
 * carry a `json.` prefix that JSON-pointer rule names (`#/$defs/…`) can never take.
 */
export const JSON_VALUE_RULE = 'json.value';
export const JSON_OBJECT_RULE = 'json.object';
export const JSON_ARRAY_RULE = 'json.array';

const member: Expr = seq({ k: 'string' }, lit(':'), ref(JSON_VALUE_RULE));

const JSON_VALUE_RULES: Record<string, Expr> = {
  [JSON_VALUE_RULE]: alt(
    ref(JSON_OBJECT_RULE),
    ref(JSON_ARRAY_RULE),
    { k: 'string' },
    { k: 'number' },
    lit('true'),
    lit('false'),
    lit('null'),
  ),
  [JSON_OBJECT_RULE]: seq(lit('{'), { k: 'repeat', item: member, min: 0, sep: lit(',') }, lit('}')),
  [JSON_ARRAY_RULE]: seq(lit('['), { k: 'repeat', item: ref(JSON_VALUE_RULE), min: 0, sep: lit(',') }, lit(']')),
};

/** Adds the any-value rules to `rules` (idempotent). */
export function addJsonValueRules(rules: Record<string, Expr>): void {
  for (const [name, body] of Object.entries(JSON_VALUE_RULES)) rules[name] ??= structuredClone(body);
}

/** Any JSON value. */
export const anyJsonValue = (rules: Record<string, Expr>): Expr => (addJsonValueRules(rules), ref(JSON_VALUE_RULE));
/** Any JSON object. */
export const anyJsonObject = (rules: Record<string, Expr>): Expr => (addJsonValueRules(rules), ref(JSON_OBJECT_RULE));
/** Any JSON array. */
export const anyJsonArray = (rules: Record<string, Expr>): Expr => (addJsonValueRules(rules), ref(JSON_ARRAY_RULE));

/** `response_format: {"type": "json_object"}`: any compact JSON object. */
export function jsonObjectGrammar(): Grammar {
  const rules: Record<string, Expr> = {};
  addJsonValueRules(rules);
  return { rules, root: JSON_OBJECT_RULE };
}

/** Any compact JSON value. */
export function jsonValueGrammar(): Grammar {
  const rules: Record<string, Expr> = {};
  addJsonValueRules(rules);
  return { rules, root: JSON_VALUE_RULE };
}
