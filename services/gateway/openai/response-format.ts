import { LOGIT_BIAS_MAX, LOGIT_BIAS_MIN, MAX_LOGIT_BIAS_ENTRIES } from '../../protocol/sampling-ranges.js';
import type { NormalizedResponseFormat } from './types.js';

/** JSON Schema of `response_format` (chat; /v1/completions takes it too, as vLLM does). */
export const responseFormatSchema = {
  type: 'object',
  required: ['type'],
  properties: {
    type: { type: 'string', enum: ['text', 'json_object', 'json_schema'] },
    json_schema: {
      type: 'object',
      required: ['name'],
      properties: {
        // OpenAI's rule for response format names (the same as for function names).
        name: { type: 'string', pattern: '^[a-zA-Z0-9_-]{1,64}$' },
        description: { type: 'string' },
        // Any JSON Schema document; what this server can enforce is checked when it is compiled.
        schema: { type: ['object', 'boolean'] },
        strict: { type: ['boolean', 'null'] },
      },
    },
  },
} as const;

/** JSON Schema of `logit_bias`: token ids (as strings) to a bias in OpenAI's range. */
export const logitBiasSchema = {
  type: 'object',
  maxProperties: MAX_LOGIT_BIAS_ENTRIES,
  propertyNames: { pattern: '^(0|[1-9][0-9]{0,9})$' },
  additionalProperties: { type: 'number', minimum: LOGIT_BIAS_MIN, maximum: LOGIT_BIAS_MAX },
} as const;

/** `response_format` of a schema-valid body, normalized; undefined for plain text. */
export function normalizeResponseFormat(raw: unknown): NormalizedResponseFormat | undefined {
  if (raw === undefined) return undefined;
  const f = raw as { type: string; json_schema?: { name: string; schema?: unknown; strict?: boolean | null } };
  if (f.type === 'text') return undefined;
  if (f.type === 'json_object') return { type: 'json_object' };
  const js = f.json_schema;
  // OpenAI requires json_schema with a name; a missing schema means "any JSON value" there.
  const schema = js?.schema === undefined || js.schema === true ? {} : js.schema;
  return { type: 'json_schema', name: js?.name ?? 'response', schema: schema as Record<string, unknown>, strict: js?.strict === true };
}

/** `logit_bias` of a schema-valid body as token id → bias; undefined when absent or empty. */
export function normalizeLogitBias(raw: unknown): Record<number, number> | undefined {
  if (raw === undefined || raw === null) return undefined;
  const entries = Object.entries(raw as Record<string, number>);
  if (entries.length === 0) return undefined;
  return Object.fromEntries(entries.map(([k, v]) => [Number(k), v]));
}
