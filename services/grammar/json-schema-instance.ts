import { invalidSchema, isSchemaObject, type SchemaCompilation, type SchemaPath } from './json-schema-context.js';
import { checkKeywords, type JsonType } from './json-schema-keywords.js';
import { resolveRef } from './json-schema-refs.js';

/** The JSON Schema type of a JSON value ("integer" for integral numbers). */
export function jsonTypeOfValue(v: unknown): JsonType {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v as JsonType; // string, boolean, object: JSON has nothing else
}

/** JSON equality: numbers by value, objects regardless of key order. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  }
  const ka = Object.keys(a);
  const bo = b as Record<string, unknown>;
  return ka.length === Object.keys(bo).length && ka.every((k) => Object.hasOwn(bo, k) && jsonEqual((a as Record<string, unknown>)[k], bo[k]));
}

const MAX_REF_HOPS = 64;

/**
 * Whether a JSON value is valid against a schema of the supported subset. Used to keep only the
 * `enum` / `const` values that also meet the schema's other keywords, which a grammar of literal
 * alternatives cannot otherwise express.
 */
export function satisfies(c: SchemaCompilation, value: unknown, schema: unknown, path: SchemaPath, hops = 0): boolean {
  if (typeof schema === 'boolean') return schema;
  if (!isSchemaObject(schema)) throw invalidSchema(c, path, 'a schema must be an object or a boolean');
  checkKeywords(c, schema, path);
  const s = schema;
  // A part of the value starts counting hops afresh; the value itself under anyOf & co. does not.
  const sub = (v: unknown, key: string, more?: string | number) => {
    const node = more === undefined ? s[key] : (s[key] as Record<string | number, unknown>)[more];
    const at = more === undefined ? [...path, key] : [...path, key, more];
    return satisfies(c, v, node, at, v === value ? hops : 0);
  };
  if (typeof s.$ref === 'string') {
    // The same value again: only `$ref` hops can loop here, so they are counted.
    if (hops >= MAX_REF_HOPS) throw invalidSchema(c, [...path, '$ref'], '"$ref"s refer to each other in a loop');
    const target = resolveRef(c, s.$ref, [...path, '$ref']);
    if (!satisfies(c, value, target.schema, target.path, hops + 1)) return false;
  }
  const type = jsonTypeOfValue(value);
  if (s.type !== undefined) {
    const types = (Array.isArray(s.type) ? s.type : [s.type]) as JsonType[];
    if (!types.includes(type) && !(type === 'integer' && types.includes('number'))) return false;
  }
  if (Array.isArray(s.enum) && !s.enum.some((e) => jsonEqual(e, value))) return false;
  if ('const' in s && !jsonEqual(s.const, value)) return false;
  if (Array.isArray(s.anyOf) && !s.anyOf.some((_, i) => sub(value, 'anyOf', i))) return false;
  if (Array.isArray(s.oneOf) && s.oneOf.filter((_, i) => sub(value, 'oneOf', i)).length !== 1) return false;
  if (Array.isArray(s.allOf) && !s.allOf.every((_, i) => sub(value, 'allOf', i))) return false;
  if (typeof value === 'string') {
    const length = [...value].length; // code points, as JSON Schema counts
    if (length < ((s.minLength as number | undefined) ?? 0) || length > ((s.maxLength as number | undefined) ?? Infinity)) return false;
  }
  if (Array.isArray(value)) {
    if (value.length < ((s.minItems as number | undefined) ?? 0) || value.length > ((s.maxItems as number | undefined) ?? Infinity)) return false;
    if (s.items !== undefined && !value.every((v) => sub(v, 'items'))) return false;
  }
  if (type === 'object') {
    const obj = value as Record<string, unknown>;
    const props = (s.properties ?? {}) as Record<string, unknown>;
    const required = (s.required ?? []) as string[];
    if (!required.every((k) => Object.hasOwn(obj, k))) return false;
    for (const [k, v] of Object.entries(obj)) {
      if (Object.hasOwn(props, k)) {
        if (!sub(v, 'properties', k)) return false;
      } else if (s.additionalProperties !== undefined && !sub(v, 'additionalProperties')) {
        return false;
      }
    }
  }
  return true;
}
