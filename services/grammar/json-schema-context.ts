import { apiError } from '../common/errors/index.js';
import type { Expr } from './grammar.js';

/** Where a subschema sits in the schema document: property names and array indices from its root. */
export type SchemaPath = ReadonlyArray<string | number>;

/** One schema document being compiled (a response format's schema, or one tool's parameters). */
export interface SchemaCompilation {
  /** The whole document: `$ref`s resolve against it. */
  readonly document: unknown;
  /** The request field the document came from, for error `param`s (e.g. `response_format.json_schema.schema`). */
  readonly param: string;
  /** Prepended to rule names, so several documents can share one grammar (one per tool). */
  readonly rulePrefix: string;
  /** The grammar's rules, shared by every document compiled into it. */
  readonly rules: Record<string, Expr>;
  /** `$ref` targets whose rules are reserved but not yet compiled. */
  readonly pendingRefs: Array<{ rule: string; path: SchemaPath }>;
}

/** `properties.age.minimum`, `anyOf[1]`: OpenAI's spelling of field paths, after the document's own. */
export function paramOf(c: SchemaCompilation, path: SchemaPath): string {
  let out = c.param;
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out === '' ? seg : `.${seg}`;
  return out;
}

/** The JSON pointer of a location, as a rule name: `#`, `#/$defs/node`, `#/properties/a~1b`. */
export function ruleNameOf(c: SchemaCompilation, path: SchemaPath): string {
  const pointer = path.map((seg) => `/${String(seg).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
  return `${c.rulePrefix}#${pointer}`;
}

export function invalidSchema(c: SchemaCompilation, path: SchemaPath, message: string): Error {
  const param = paramOf(c, path);
  return apiError('invalid_json_schema', `Invalid JSON schema at '${param}': ${message}`, param);
}

/** `path` ends with the offending keyword. */
export function unsupportedKeyword(c: SchemaCompilation, path: SchemaPath, message: string): Error {
  const param = paramOf(c, path);
  return apiError('unsupported_json_schema_keyword', `Unsupported JSON schema keyword at '${param}': ${message}`, param);
}

/** A subschema: `true`, `false` or an object of keywords. */
export type Schema = boolean | Record<string, unknown>;

export function isSchemaObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads the subschema at `path` of the document (the path is known to exist). */
export function schemaAt(c: SchemaCompilation, path: SchemaPath): unknown {
  let node: unknown = c.document;
  for (const seg of path) node = (node as Record<string | number, unknown>)[seg];
  return node;
}
