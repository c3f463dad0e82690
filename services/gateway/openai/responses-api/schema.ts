import { SAMPLING_RANGES, rangeSchema } from '../../../protocol/sampling-ranges.js';
import { MAX_MESSAGES } from '../chat-schema.js';

/** OpenAI's own bounds on `metadata`: 16 pairs, keys up to 64 characters, values up to 512. */
export const MAX_METADATA_PAIRS = 16;
const MAX_METADATA_KEY = 64;
const MAX_METADATA_VALUE = 512;

const samplingRange = (param: string) => rangeSchema(SAMPLING_RANGES.find((r) => r.param === param)!);

/**
 * JSON Schema of a POST /v1/responses body: the static rules only. Input items and tools are
 * unions keyed by `type`; the schema checks they are objects and the hand-written checks after it
 * (input-items.ts, tools.ts) tell "not supported here" from "invalid", with the item's path.
 *
 * As for chat, top-level fields not listed are ignored (clients and wrappers send extras); the
 * OpenAI fields this server cannot honour are refused by name in unsupported.ts.
 */
export const responsesRequestSchema = {
  $id: 'tandem/openai/responses-request',
  type: 'object',
  required: ['model', 'input'],
  properties: {
    model: { type: 'string', minLength: 1 },
    // maxItems is checked before any item, as for chat messages.
    input: { type: ['string', 'array'], minLength: 1, minItems: 1, maxItems: MAX_MESSAGES, items: { type: 'object', properties: { type: { type: 'string' } } } },
    instructions: { type: 'string' },
    max_output_tokens: { type: 'integer' },
    temperature: samplingRange('temperature'),
    top_p: samplingRange('top_p'),
    stream: { type: 'boolean' },
    stream_options: { type: 'object', properties: { include_obfuscation: { type: 'boolean' } } },
    tools: { type: 'array', items: { type: 'object', required: ['type'], properties: { type: { type: 'string' } } } },
    // 'none' | 'auto' | 'required' | {type:'function', name}: checked by hand for a clearer message.
    tool_choice: { type: ['string', 'object'] },
    parallel_tool_calls: { type: 'boolean' },
    text: {
      type: 'object',
      properties: {
        format: {
          type: 'object',
          required: ['type'],
          properties: {
            type: { type: 'string', enum: ['text', 'json_object', 'json_schema'] },
            name: { type: 'string', pattern: '^[a-zA-Z0-9_-]{1,64}$' },
            description: { type: 'string' },
            schema: { type: 'object' },
            strict: { type: 'boolean' },
          },
        },
        verbosity: { type: 'string', enum: ['low', 'medium', 'high'] },
      },
    },
    reasoning: {
      type: 'object',
      properties: {
        effort: { type: ['string', 'null'], enum: ['none', 'minimal', 'low', 'medium', 'high', 'xhigh', 'max', null] },
        summary: { type: ['string', 'null'], enum: ['auto', 'concise', 'detailed', null] },
        generate_summary: { type: ['string', 'null'], enum: ['auto', 'concise', 'detailed', null] },
      },
    },
    metadata: {
      type: 'object',
      maxProperties: MAX_METADATA_PAIRS,
      propertyNames: { maxLength: MAX_METADATA_KEY },
      additionalProperties: { type: 'string', maxLength: MAX_METADATA_VALUE },
    },
    user: { type: 'string' },
    safety_identifier: { type: 'string' },
    prompt_cache_key: { type: 'string' },
    store: { type: 'boolean' },
    previous_response_id: { type: 'string' },
    include: { type: 'array', items: { type: 'string' } },
    top_logprobs: { type: 'integer', minimum: 0, maximum: 20 },
    truncation: { type: 'string', enum: ['auto', 'disabled'] },
    service_tier: { type: 'string' },
    background: { type: 'boolean' },
    max_tool_calls: { type: 'integer', minimum: 1 },
  },
} as const;
