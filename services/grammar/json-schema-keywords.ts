import { GRAMMAR_LIMITS } from './grammar.js';
import {
  invalidSchema,
  isSchemaObject,
  unsupportedKeyword,
  type SchemaCompilation,
  type SchemaPath,
} from './json-schema-context.js';

/** Keywords that describe a value without constraining it. */
export const ANNOTATIONS: ReadonlySet<string> = new Set([
  'title', 'description', 'default', 'examples', '$schema', '$id', '$comment',
  'deprecated', 'readOnly', 'writeOnly', 'strict',
]);

/** Keywords that only hold subschemas for `$ref` to point at; checked when referenced. */
export const CONTAINERS: ReadonlySet<string> = new Set(['$defs', 'definitions']);

export const JSON_TYPES = ['object', 'array', 'string', 'number', 'integer', 'boolean', 'null'] as const;
export type JsonType = (typeof JSON_TYPES)[number];

/** Keywords that only constrain one type; without `type`, their presence says which type is meant. */
export const TYPE_OF_KEYWORD: Readonly<Record<string, JsonType>> = {
  properties: 'object', required: 'object', additionalProperties: 'object',
  items: 'array', minItems: 'array', maxItems: 'array', uniqueItems: 'array',
  minLength: 'string', maxLength: 'string',
};

const COMBINATORS = ['anyOf', 'oneOf', 'allOf'];
const SUPPORTED: ReadonlySet<string> = new Set(['type', 'enum', 'const', '$ref', ...COMBINATORS, ...Object.keys(TYPE_OF_KEYWORD)]);

/** Keywords of JSON Schema that a grammar cannot enforce (or not exactly), with the reason. */
const REFUSED: Readonly<Record<string, string>> = (() => {
  const families: Array<[string[], string]> = [
    [['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf'], 'numeric bounds cannot be enforced while generating; describe the range in "description" instead'],
    [['pattern'], 'regular expressions on strings are not supported'],
    [['format'], 'string formats are not supported; use "enum" or describe the format in "description"'],
    [['patternProperties', 'propertyNames', 'minProperties', 'maxProperties', 'dependentRequired', 'dependentSchemas', 'dependencies', 'unevaluatedProperties'], 'only "properties", "required" and "additionalProperties" are supported on objects'],
    [['prefixItems', 'additionalItems', 'contains', 'minContains', 'maxContains', 'unevaluatedItems'], 'only "items", "minItems" and "maxItems" are supported on arrays'],
    [['not', 'if', 'then', 'else'], 'only "anyOf" (and "oneOf" over clearly distinct branches) can combine schemas'],
    [['$anchor', '$dynamicRef', '$dynamicAnchor', '$recursiveRef', '$recursiveAnchor', '$vocabulary'], 'only "$ref" to "#", "#/$defs/…" or "#/definitions/…" is supported'],
    [['contentEncoding', 'contentMediaType', 'contentSchema'], 'encoded string contents are not supported'],
    [['nullable', 'discriminator'], 'this OpenAPI keyword is not JSON Schema; use "type": [..., "null"] or "anyOf"'],
  ];
  const out: Record<string, string> = {};
  for (const [names, why] of families) for (const n of names) out[n] = why;
  return out;
})();

/** Keywords of `schema` that constrain instances (not annotations, not `$defs`). */
export function constraintKeywords(schema: Record<string, unknown>): string[] {
  return Object.keys(schema).filter((k) => !ANNOTATIONS.has(k) && !CONTAINERS.has(k));
}

/**
 * Refuses what this compiler cannot enforce exactly and what is malformed, naming the keyword's
 * path. Values of subschema keywords (`properties`, `items`, …) are checked when compiled.
 */
export function checkKeywords(c: SchemaCompilation, schema: Record<string, unknown>, path: SchemaPath): void {
  for (const [key, value] of Object.entries(schema)) {
    const at = [...path, key];
    if (ANNOTATIONS.has(key)) continue;
    if (CONTAINERS.has(key)) {
      if (!isSchemaObject(value)) throw invalidSchema(c, at, `"${key}" must be an object of schemas`);
      continue;
    }
    if (Object.hasOwn(REFUSED, key)) throw unsupportedKeyword(c, at, `"${key}" is not supported: ${REFUSED[key]}.`);
    if (!SUPPORTED.has(key)) throw unsupportedKeyword(c, at, `"${key}" is not a supported JSON Schema keyword.`);
    checkValue(c, key, value, at);
  }
}

function checkValue(c: SchemaCompilation, key: string, value: unknown, at: SchemaPath): void {
  const isSchema = (v: unknown) => typeof v === 'boolean' || isSchemaObject(v);
  switch (key) {
    case 'type': {
      const types = Array.isArray(value) ? value : [value];
      const known = types.every((t) => (JSON_TYPES as readonly unknown[]).includes(t));
      if (types.length === 0 || !known || new Set(types).size !== types.length) {
        throw invalidSchema(c, at, `"type" must be one of ${JSON_TYPES.join(', ')} or a non-empty array of distinct ones`);
      }
      return;
    }
    case 'enum':
    case 'anyOf':
    case 'oneOf':
    case 'allOf':
      if (!Array.isArray(value) || value.length === 0) throw invalidSchema(c, at, `"${key}" must be a non-empty array`);
      if (key !== 'enum' && !value.every(isSchema)) throw invalidSchema(c, at, `every item of "${key}" must be a schema`);
      return;
    case '$ref':
      if (typeof value !== 'string') throw invalidSchema(c, at, '"$ref" must be a string');
      return;
    case 'properties':
      if (!isSchemaObject(value) || !Object.values(value).every(isSchema)) throw invalidSchema(c, at, '"properties" must be an object of schemas');
      return;
    case 'required':
      if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw invalidSchema(c, at, '"required" must be an array of strings');
      return;
    case 'additionalProperties':
      if (!isSchema(value)) throw invalidSchema(c, at, '"additionalProperties" must be a schema');
      return;
    case 'items':
      if (Array.isArray(value)) throw unsupportedKeyword(c, at, '"items" as an array (a tuple) is not supported; give one schema for every item.');
      if (!isSchema(value)) throw invalidSchema(c, at, '"items" must be a schema');
      return;
    case 'uniqueItems':
      if (typeof value !== 'boolean') throw invalidSchema(c, at, '"uniqueItems" must be a boolean');
      if (value) throw unsupportedKeyword(c, at, '"uniqueItems": true is not supported: distinct items cannot be enforced while generating.');
      return;
    case 'minItems':
    case 'maxItems':
      return checkCount(c, key, value, at, GRAMMAR_LIMITS.maxRepeat);
    case 'minLength':
    case 'maxLength':
      return checkCount(c, key, value, at, GRAMMAR_LIMITS.maxStringLength);
    default:
      return; // const: any JSON value
  }
}

function checkCount(c: SchemaCompilation, key: string, value: unknown, at: SchemaPath, limit: number): void {
  if (!Number.isInteger(value) || (value as number) < 0) throw invalidSchema(c, at, `"${key}" must be a non-negative integer`);
  if ((value as number) > limit) throw unsupportedKeyword(c, at, `"${key}" is ${String(value)}; at most ${limit} can be enforced.`);
}
