import { apiError } from '../../../common/errors/index.js';
import type { NormalizedResponseFormat } from '../types.js';

/** What `text.format` looks like after the schema (type is one of the three, fields typed). */
interface SchemaTextFormat {
  type: 'text' | 'json_object' | 'json_schema';
  name?: string;
  schema?: Record<string, unknown>;
  strict?: boolean;
}

/**
 * `text.format` → the request's structured-output constraint; undefined for plain text. The
 * Responses API spells json_schema flat (`{type, name, schema, strict}`) where chat nests it under
 * `json_schema`; both normalize to the same form, so the constrained decoder sees one shape.
 * `strict` defaults to false, as OpenAI's does.
 */
export function responsesTextFormat(text: { format?: SchemaTextFormat } | undefined): NormalizedResponseFormat | undefined {
  const f = text?.format;
  if (f === undefined || f.type === 'text') return undefined;
  if (f.type === 'json_object') return { type: 'json_object' };
  if (f.name === undefined) throw apiError('missing_parameter', "Missing required parameter: 'text.format.name'.", 'text.format.name');
  if (f.schema === undefined) throw apiError('missing_parameter', "Missing required parameter: 'text.format.schema'.", 'text.format.schema');
  return { type: 'json_schema', name: f.name, schema: f.schema, strict: f.strict ?? false };
}
