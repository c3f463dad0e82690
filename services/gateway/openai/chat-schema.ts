import { commonRequestProperties } from './schema-common.js';

/** Most messages in one chat request (a long agent transcript fits; 100k does not). */
export const MAX_MESSAGES = 2048;
/** Most content parts (text and images) in one message. */
export const MAX_CONTENT_PARTS = 256;

export const CHAT_ROLES = ['system', 'developer', 'user', 'assistant', 'tool'] as const;

/** Part types are checked after the schema, to tell "not supported" (audio, files) from "invalid". */
const contentPartSchema = {
  type: 'object',
  required: ['type'],
  properties: {
    type: { type: 'string' },
    text: { type: 'string' },
    // `detail` is accepted for compatibility; adaptive resolution decides the size either way.
    image_url: {
      type: 'object',
      required: ['url'],
      properties: { url: { type: 'string', minLength: 1 }, detail: { type: 'string', enum: ['auto', 'low', 'high'] } },
    },
  },
} as const;

const toolCallSchema = {
  type: 'object',
  required: ['id', 'type', 'function'],
  properties: {
    id: { type: 'string' },
    type: { type: 'string', enum: ['function'] },
    function: {
      type: 'object',
      required: ['name', 'arguments'],
      properties: { name: { type: 'string', minLength: 1 }, arguments: { type: 'string' } },
    },
  },
} as const;

const messageSchema = {
  type: 'object',
  required: ['role'],
  properties: {
    role: { type: 'string', enum: CHAT_ROLES },
    content: { type: ['string', 'array', 'null'], maxItems: MAX_CONTENT_PARTS, items: contentPartSchema },
    name: { type: 'string' },
    tool_calls: { type: 'array', items: toolCallSchema },
    tool_call_id: { type: 'string' },
    reasoning_content: { type: ['string', 'null'] },
  },
} as const;

/** OpenAI's function-name rule, so a tool accepted here is also accepted by OpenAI. */
export const TOOL_NAME_PATTERN = '^[a-zA-Z0-9_-]{1,64}$';

const toolSchema = {
  type: 'object',
  required: ['type', 'function'],
  properties: {
    type: { type: 'string', enum: ['function'] },
    function: {
      type: 'object',
      required: ['name'],
      properties: {
        name: { type: 'string', pattern: TOOL_NAME_PATTERN },
        description: { type: 'string' },
        parameters: { type: 'object' },
        strict: { type: 'boolean' },
      },
    },
  },
} as const;

export const chatCompletionRequestSchema = {
  $id: 'tandem/openai/chat-completion-request',
  type: 'object',
  required: ['model', 'messages'],
  properties: {
    ...commonRequestProperties,
    // maxItems is checked before any item, so a body of 100k messages is refused without walking it.
    messages: { type: 'array', minItems: 1, maxItems: MAX_MESSAGES, items: messageSchema },
    max_completion_tokens: { type: 'integer' },
    logprobs: { type: 'boolean' },
    top_logprobs: { type: 'integer', minimum: 0 },
    tools: { type: 'array', items: toolSchema },
    // 'none' | 'auto' | 'required' | {type:'function', function:{name}}: checked by hand for a clearer message.
    tool_choice: { type: ['string', 'object'] },
    parallel_tool_calls: { type: 'boolean' },
    chat_template_kwargs: {
      type: 'object',
      properties: { enable_thinking: { type: 'boolean' } },
    },
  },
} as const;
