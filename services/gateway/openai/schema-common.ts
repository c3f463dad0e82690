/**
 * JSON Schema fragments shared by /v1/chat/completions and /v1/completions. They encode only the
 * static rules (types, fixed ranges); bounds that depend on deployment limits (n, max_tokens,
 * number of stop strings, top_logprobs) are checked after schema validation, so the schemas can
 * be compiled once and published as they are.
 *
 * Top-level fields not listed here are allowed and ignored: OpenAI clients and wrappers send
 * fields this server has no use for, and rejecting them would break those clients.
 */

import { SAMPLING_RANGES, rangeSchema } from '../../protocol/sampling-ranges.js';
import { logitBiasSchema, responseFormatSchema } from './response-format.js';

export const commonRequestProperties = {
  model: { type: 'string', minLength: 1 },
  stream: { type: 'boolean' },
  stream_options: {
    type: 'object',
    properties: { include_usage: { type: 'boolean' } },
  },
  n: { type: 'integer', minimum: 1 },
  max_tokens: { type: 'integer' },
  // temperature, top_p, top_k, min_p and the penalties: the cluster-wide ranges the engine checks too.
  ...Object.fromEntries(SAMPLING_RANGES.map((r) => [r.param, rangeSchema(r)])),
  seed: { type: 'integer' },
  // minLength applies to the string form, items to the array form.
  stop: { type: ['string', 'array'], minLength: 1, items: { type: 'string', minLength: 1 } },
  ignore_eos: { type: 'boolean' },
  user: { type: 'string' },
  // vLLM's prefix-cache salt: requests with different salts never share cached KV.
  cache_salt: { type: 'string', minLength: 1, maxLength: 256 },
  // Structured output (a vLLM-style extension on /v1/completions) and OpenAI's logit_bias.
  response_format: responseFormatSchema,
  logit_bias: { ...logitBiasSchema, type: ['object', 'null'] },
} as const;
