import {
  invalidSchema,
  isSchemaObject,
  unsupportedKeyword,
  type SchemaCompilation,
  type SchemaPath,
} from './json-schema-context.js';

/**
 * Resolves a `$ref` within the document: `#` (the root) or a JSON pointer through `$defs` /
 * `definitions` (`#/$defs/a`, `#/definitions/a/$defs/b`), with `~0` `~1` and percent escapes.
 * Anything else (remote documents, `$id`s, anchors, pointers into `properties`) is refused: a
 * server must not fetch schemas, and pointers into arbitrary places are rare enough not to carry.
 */
export function resolveRef(c: SchemaCompilation, ref: string, at: SchemaPath): { path: SchemaPath; schema: unknown } {
  if (!ref.startsWith('#')) {
    throw unsupportedKeyword(c, at, `"$ref": "${ref}" is not supported; only "#", "#/$defs/<name>" and "#/definitions/<name>" can be referenced.`);
  }
  let pointer: string;
  try {
    pointer = decodeURIComponent(ref.slice(1));
  } catch {
    throw invalidSchema(c, at, `"$ref": "${ref}" is not a valid URI fragment`);
  }
  if (pointer !== '' && !pointer.startsWith('/')) {
    throw unsupportedKeyword(c, at, `"$ref": "${ref}" names an anchor; only "#", "#/$defs/<name>" and "#/definitions/<name>" can be referenced.`);
  }
  const segments = pointer === '' ? [] : pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const path: string[] = [];
  let node: unknown = c.document;
  for (let i = 0; i < segments.length; i += 2) {
    const container = segments[i]!;
    const name = segments[i + 1];
    if ((container !== '$defs' && container !== 'definitions') || name === undefined) {
      throw unsupportedKeyword(c, at, `"$ref": "${ref}" is not supported; only "#", "#/$defs/<name>" and "#/definitions/<name>" can be referenced.`);
    }
    const defs = isSchemaObject(node) ? node[container] : undefined;
    if (!isSchemaObject(defs) || !Object.hasOwn(defs, name)) throw invalidSchema(c, at, `"$ref": "${ref}" points at nothing`);
    node = defs[name];
    path.push(container, name);
  }
  if (typeof node !== 'boolean' && !isSchemaObject(node)) throw invalidSchema(c, at, `"$ref": "${ref}" does not point at a schema`);
  return { path, schema: node };
}
