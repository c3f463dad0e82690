/**
 * JSON Schema (the subset OpenAI documents for structured outputs, plus a little) compiled into
 * a byte-level Grammar whose sentences are compact JSON texts valid against the schema, object
 * properties in the schema's `properties` order. What cannot be enforced exactly is refused
 * with `unsupported_json_schema_keyword` naming the keyword's path; a malformed schema, one with
 * no finite instance, or one too large for GRAMMAR_LIMITS gets `invalid_json_schema`.
 *
 * The grammar generates a subset of the valid instances, never an invalid one: no key beyond
 * `properties` is written even where `additionalProperties` allows it, and a schema without
 * `type` takes its type from its keywords (`properties` → object).
 */
import { GRAMMAR_LIMITS, type Expr, type Grammar } from './grammar.js';
import { alt, lit, NEVER, ref, seq, unrolledSize } from './expr-builders.js';
import {
  invalidSchema,
  isSchemaObject,
  ruleNameOf,
  unsupportedKeyword,
  type SchemaCompilation,
  type SchemaPath,
} from './json-schema-context.js';
import { checkKeywords, constraintKeywords, TYPE_OF_KEYWORD, type JsonType } from './json-schema-keywords.js';
import { jsonTypeOfValue, satisfies } from './json-schema-instance.js';
import { checkOneOfIsExclusive } from './json-schema-one-of.js';
import { resolveRef } from './json-schema-refs.js';
import { objectOfMembers } from './json-object-members.js';
import { anyJsonArray, anyJsonObject, anyJsonValue } from './json-value.js';
import { finishSchemaGrammar } from './json-schema-finish.js';

export interface JsonSchemaGrammarOptions {
  /** Request field the schema came from, prefixed to error params; default `schema`. */
  path?: string;
}

/** The grammar of compact JSON texts valid against `schema`. Throws ApiErrors (see above). */
export function jsonSchemaGrammar(schema: unknown, opts: JsonSchemaGrammarOptions = {}): Grammar {
  const rules: Record<string, Expr> = {};
  const c = newCompilation(schema, rules, opts.path ?? 'schema', '');
  const root = compileJsonSchemaRule(c);
  return finishSchemaGrammar({ rules, root }, [{ rule: root, param: c.param }]);
}

export function newCompilation(document: unknown, rules: Record<string, Expr>, param: string, rulePrefix: string): SchemaCompilation {
  return { document, param, rulePrefix, rules, pendingRefs: [] };
}

/**
 * Compiles the document into rules of `c.rules` and returns the name of its root rule. With
 * `objectOnly`, the root admits only objects (a tool's arguments must be one) and gets its own rule.
 */
export function compileJsonSchemaRule(c: SchemaCompilation, objectOnly = false): string {
  const rootRule = objectOnly ? `${c.rulePrefix}#object` : ruleNameOf(c, []);
  c.rules[rootRule] = NEVER; // reserved first, so the root comes first in the grammar
  c.rules[rootRule] = compileSchema(c, c.document, [], { objectOnly, depth: 0 });
  // `$ref` targets are compiled once each, breadth first, whatever their recursion.
  for (let next = c.pendingRefs.shift(); next; next = c.pendingRefs.shift()) {
    c.rules[next.rule] = compileSchema(c, resolveRefPath(c, next.path), next.path, { objectOnly: false, depth: 0 });
  }
  return rootRule;
}

function resolveRefPath(c: SchemaCompilation, path: SchemaPath): unknown {
  let node: unknown = c.document;
  for (const seg of path) node = (node as Record<string | number, unknown>)[seg];
  return node;
}

interface Position {
  /** Only objects may be written here (a tool's arguments). */
  objectOnly: boolean;
  /** Nesting of schemas compiled inline, bounded to keep recursion off the stack limit. */
  depth: number;
}

const MAX_DEPTH = 64;

function compileSchema(c: SchemaCompilation, schema: unknown, path: SchemaPath, pos: Position): Expr {
  if (pos.depth > MAX_DEPTH) throw invalidSchema(c, path, `schemas nest deeper than ${MAX_DEPTH} levels`);
  if (schema === true) return pos.objectOnly ? anyJsonObject(c.rules) : anyJsonValue(c.rules);
  if (schema === false) return NEVER;
  if (!isSchemaObject(schema)) throw invalidSchema(c, path, 'a schema must be an object or a boolean');
  checkKeywords(c, schema, path);
  const inner: Position = { objectOnly: false, depth: pos.depth + 1 };
  const same: Position = { ...pos, depth: pos.depth + 1 };
  const constraints = constraintKeywords(schema);
  const combinator = (['$ref', 'anyOf', 'oneOf', 'allOf'] as const).find((k) => k in schema);
  if (combinator) {
    // In draft 2019+ siblings of these keywords also apply (an intersection); rather than guess
    // a draft, only the plain forms are accepted.
    const sibling = constraints.find((k) => k !== combinator);
    if (sibling) {
      throw unsupportedKeyword(c, [...path, sibling], `"${sibling}" next to "${combinator}" is not supported; move it into the referenced schema or into each branch.`);
    }
    if (combinator === '$ref') return compileRef(c, schema.$ref as string, [...path, '$ref'], same);
    const branches = schema[combinator] as unknown[];
    if (combinator === 'allOf' && branches.length > 1) {
      throw unsupportedKeyword(c, [...path, 'allOf'], '"allOf" with more than one schema is not supported; merge them into one schema.');
    }
    if (combinator === 'oneOf') checkOneOfIsExclusive(c, branches, [...path, 'oneOf']);
    return alt(...branches.map((b, i) => compileSchema(c, b, [...path, combinator, i], same)));
  }
  if ('enum' in schema || 'const' in schema) return compileEnum(c, schema, path, pos);
  let types = schema.type === undefined ? impliedTypes(schema) : ((Array.isArray(schema.type) ? schema.type : [schema.type]) as JsonType[]);
  if (types.includes('number')) types = types.filter((t) => t !== 'integer'); // integers are numbers
  if (pos.objectOnly) types = types.filter((t) => t === 'object');
  return alt(...types.map((t) => compileType(c, t, schema, path, inner)));
}

/** Without `type`, the keywords say which type is meant; with none of them, any type. */
function impliedTypes(schema: Record<string, unknown>): JsonType[] {
  const implied = Object.keys(schema).filter((k) => Object.hasOwn(TYPE_OF_KEYWORD, k)).map((k) => TYPE_OF_KEYWORD[k]!);
  return implied.length > 0 ? [...new Set(implied)] : ['object', 'array', 'string', 'number', 'boolean', 'null'];
}

function compileRef(c: SchemaCompilation, refText: string, at: SchemaPath, pos: Position): Expr {
  const target = resolveRef(c, refText, at);
  // Restricted positions compile the target inline (its rule would admit every type).
  if (pos.objectOnly) return compileSchema(c, target.schema, target.path, pos);
  const rule = ruleNameOf(c, target.path);
  if (!Object.hasOwn(c.rules, rule)) {
    c.rules[rule] = NEVER; // reserved; compiled from the queue
    c.pendingRefs.push({ rule, path: target.path });
  }
  return ref(rule);
}

/** `enum` / `const`: the listed values that also meet the other keywords, each spelled compactly. */
function compileEnum(c: SchemaCompilation, schema: Record<string, unknown>, path: SchemaPath, pos: Position): Expr {
  // The other keywords only filter the values, but are compiled (and the result dropped) so that
  // unsupported ones are refused here as anywhere else; unused rules are pruned at the end.
  const { enum: _enum, const: _const, ...others } = schema;
  compileSchema(c, others, path, pos);
  const listed = Array.isArray(schema.enum) ? schema.enum : [schema.const];
  const texts = new Set<string>();
  for (const value of listed) {
    if (pos.objectOnly && jsonTypeOfValue(value) !== 'object') continue;
    if (!satisfies(c, value, schema, path)) continue;
    const text = JSON.stringify(value);
    if (Buffer.byteLength(text) > GRAMMAR_LIMITS.maxLiteralBytes) {
      throw unsupportedKeyword(c, [...path, 'enum' in schema ? 'enum' : 'const'], `a value longer than ${GRAMMAR_LIMITS.maxLiteralBytes} bytes of JSON is not supported.`);
    }
    texts.add(text);
  }
  return alt(...[...texts].map(lit));
}

function compileType(c: SchemaCompilation, type: JsonType, schema: Record<string, unknown>, path: SchemaPath, pos: Position): Expr {
  switch (type) {
    case 'null':
      return lit('null');
    case 'boolean':
      return alt(lit('true'), lit('false'));
    case 'number':
      return { k: 'number' };
    case 'integer':
      return { k: 'number', integer: true };
    case 'string': {
      const e: Expr = { k: 'string' };
      if (schema.minLength !== undefined) e.minLength = schema.minLength as number;
      if (schema.maxLength !== undefined) e.maxLength = schema.maxLength as number;
      return (e.minLength ?? 0) > (e.maxLength ?? Infinity) ? NEVER : e;
    }
    case 'array':
      return compileArray(c, schema, path, pos);
    case 'object':
      return compileObject(c, schema, path, pos);
  }
}

/** An item expression bigger than this (unrolled) is put in a rule when the runtime would copy it. */
const HOIST_ITEM_ABOVE_SIZE = 32;

function compileArray(c: SchemaCompilation, schema: Record<string, unknown>, path: SchemaPath, pos: Position): Expr {
  const min = (schema.minItems as number | undefined) ?? 0;
  const max = schema.maxItems as number | undefined;
  if (max !== undefined && min > max) return NEVER;
  if (schema.items === undefined && min === 0 && max === undefined) return anyJsonArray(c.rules);
  let item = compileSchema(c, schema.items ?? true, [...path, 'items'], pos);
  if (max !== undefined && max > 1 && unrolledSize(item) > HOIST_ITEM_ABOVE_SIZE) item = hoist(c, [...path, 'items'], item);
  const repeat: Expr = { k: 'repeat', item, min, sep: lit(',') };
  if (max !== undefined) repeat.max = max;
  return seq(lit('['), repeat, lit(']'));
}

function compileObject(c: SchemaCompilation, schema: Record<string, unknown>, path: SchemaPath, pos: Position): Expr {
  const properties = schema.properties as Record<string, unknown> | undefined;
  const required = new Set((schema.required as string[] | undefined) ?? []);
  const additional = schema.additionalProperties ?? true;
  if (properties === undefined && required.size === 0) {
    if (additional === true) return anyJsonObject(c.rules);
    if (additional === false) return lit('{}');
    // A map: any keys, each value valid against additionalProperties.
    const value = compileSchema(c, additional, [...path, 'additionalProperties'], pos);
    const member = seq({ k: 'string' }, lit(':'), value);
    return seq(lit('{'), { k: 'repeat', item: member, min: 0, sep: lit(',') }, lit('}'));
  }
  const members = Object.entries(properties ?? {}).map(([name, sub]) => ({
    name,
    value: compileSchema(c, sub, [...path, 'properties', name], pos),
    required: required.has(name),
  }));
  // Required names without a property schema are written too, valued by additionalProperties.
  for (const name of required) {
    if (properties && Object.hasOwn(properties, name)) continue;
    members.push({ name, value: compileSchema(c, additional, [...path, 'additionalProperties'], pos), required: true });
  }
  return objectOfMembers(
    members,
    (m) => hoist(c, [...path, 'properties', m.name], m.value),
    (n) => invalidSchema(c, [...path, 'properties'], `${n} optional properties before the first required one make the grammar too large; mark more of them required`),
  );
}

/** Puts `e` into a rule named after its schema location and returns a reference to it. */
function hoist(c: SchemaCompilation, path: SchemaPath, e: Expr): Expr {
  const rule = ruleNameOf(c, path);
  c.rules[rule] = e;
  return ref(rule);
}
