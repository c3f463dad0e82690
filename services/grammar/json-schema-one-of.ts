import { isSchemaObject, unsupportedKeyword, type SchemaCompilation, type SchemaPath } from './json-schema-context.js';
import { TYPE_OF_KEYWORD, type JsonType } from './json-schema-keywords.js';
import { jsonEqual, jsonTypeOfValue } from './json-schema-instance.js';
import { resolveRef } from './json-schema-refs.js';

/**
 * `oneOf` means "exactly one branch", which a grammar cannot count. It equals `anyOf` when no
 * value can be valid against two branches, which is checked here for the two shapes that cover
 * real schemas: branches of different JSON types (`oneOf: [{type: string}, {type: array}]`), and
 * object branches told apart by a property every one of them requires with `const` / `enum`
 * values no other branch allows (a tagged union). Anything else is refused.
 */
export function checkOneOfIsExclusive(c: SchemaCompilation, branches: unknown[], path: SchemaPath): void {
  const kinds = branches.map((b, i) => possibleKinds(c, b, [...path, i], new Set()));
  for (let i = 0; i < branches.length; i++) {
    for (let j = i + 1; j < branches.length; j++) {
      const shared = [...kinds[i]!].filter((k) => kinds[j]!.has(k));
      if (shared.length === 0) continue;
      if (shared.length === 1 && shared[0] === 'object' && haveDistinctTags(c, branches[i], [...path, i], branches[j], [...path, j])) continue;
      throw unsupportedKeyword(
        c,
        path,
        `"oneOf" is only supported when no value can match two branches (different types, or objects with a required "const"/"enum" tag property); branches ${i} and ${j} may both match. Use "anyOf" if matching several branches is fine.`,
      );
    }
  }
}

/** Kinds a value of this schema can have (integer counted as number); over-approximated. */
type Kind = Exclude<JsonType, 'integer'>;
const ALL_KINDS: Kind[] = ['object', 'array', 'string', 'number', 'boolean', 'null'];
const kindOf = (t: JsonType): Kind => (t === 'integer' ? 'number' : t);

function possibleKinds(c: SchemaCompilation, schema: unknown, path: SchemaPath, seen: Set<string>): Set<Kind> {
  if (schema === false) return new Set();
  if (!isSchemaObject(schema)) return new Set(ALL_KINDS);
  const intersect = (a: Set<Kind>, b: Set<Kind>) => new Set([...a].filter((k) => b.has(k)));
  let kinds = new Set<Kind>(ALL_KINDS);
  if (typeof schema.$ref === 'string') {
    if (seen.has(schema.$ref)) return kinds; // a loop: say "anything", the safe answer
    const target = resolveRef(c, schema.$ref, [...path, '$ref']);
    kinds = intersect(kinds, possibleKinds(c, target.schema, target.path, new Set([...seen, schema.$ref])));
  }
  if (schema.type !== undefined) {
    const types = (Array.isArray(schema.type) ? schema.type : [schema.type]) as JsonType[];
    kinds = intersect(kinds, new Set(types.map(kindOf)));
  } else {
    const implied = Object.keys(schema).filter((k) => Object.hasOwn(TYPE_OF_KEYWORD, k)).map((k) => TYPE_OF_KEYWORD[k]!);
    if (implied.length > 0 && !('enum' in schema) && !('const' in schema)) kinds = intersect(kinds, new Set(implied.map(kindOf)));
  }
  const values = Array.isArray(schema.enum) ? schema.enum : 'const' in schema ? [schema.const] : undefined;
  if (values) kinds = intersect(kinds, new Set(values.map((v) => kindOf(jsonTypeOfValue(v)))));
  for (const key of ['anyOf', 'oneOf'] as const) {
    const list = schema[key];
    if (!Array.isArray(list)) continue;
    const union = new Set<Kind>();
    list.forEach((b, i) => possibleKinds(c, b, [...path, key, i], seen).forEach((k) => union.add(k)));
    kinds = intersect(kinds, union);
  }
  if (Array.isArray(schema.allOf)) {
    schema.allOf.forEach((b, i) => (kinds = intersect(kinds, possibleKinds(c, b, [...path, 'allOf', i], seen))));
  }
  return kinds;
}

/** Some property both branches require, with `const`/`enum` values the other branch never allows. */
function haveDistinctTags(c: SchemaCompilation, a: unknown, pathA: SchemaPath, b: unknown, pathB: SchemaPath): boolean {
  const tagsA = tagValues(c, a, pathA);
  const tagsB = tagValues(c, b, pathB);
  for (const [name, valuesA] of tagsA) {
    const valuesB = tagsB.get(name);
    if (valuesB && !valuesA.some((va) => valuesB.some((vb) => jsonEqual(va, vb)))) return true;
  }
  return false;
}

/** For an object schema (after one `$ref`): its required properties whose values are a fixed list. */
function tagValues(c: SchemaCompilation, schema: unknown, path: SchemaPath): Map<string, unknown[]> {
  const out = new Map<string, unknown[]>();
  let s = schema;
  if (isSchemaObject(s) && typeof s.$ref === 'string') s = resolveRef(c, s.$ref, [...path, '$ref']).schema;
  if (!isSchemaObject(s) || !isSchemaObject(s.properties) || !Array.isArray(s.required)) return out;
  for (const name of s.required as string[]) {
    let prop = s.properties[name];
    if (isSchemaObject(prop) && typeof prop.$ref === 'string') prop = resolveRef(c, prop.$ref, path).schema;
    if (!isSchemaObject(prop)) continue;
    if ('const' in prop) out.set(name, [prop.const]);
    else if (Array.isArray(prop.enum)) out.set(name, prop.enum);
  }
  return out;
}
