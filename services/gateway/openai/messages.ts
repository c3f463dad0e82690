import { apiError } from '../../common/errors/index.js';
import { normalizeContentParts } from './content-parts.js';
import { childParam } from './param-path.js';
import type { ChatRole, NormalizedChatMessage, NormalizedToolCall } from './types.js';

/** Raw message after schema validation: field types are known, role-specific rules are not. */
interface SchemaMessage {
  role: ChatRole | 'developer';
  content?: string | Array<Record<string, unknown>> | null;
  name?: string;
  tool_calls?: NormalizedToolCall[];
  tool_call_id?: string;
  reasoning_content?: string | null;
}

function normalizeMessage(m: SchemaMessage, param: string): NormalizedChatMessage {
  const role: ChatRole = m.role === 'developer' ? 'system' : m.role;
  const content = typeof m.content === 'string' || m.content == null
    ? (m.content ?? null)
    : normalizeContentParts(m.content, childParam(param, 'content'), role);

  if (m.tool_calls !== undefined && role !== 'assistant') {
    throw apiError('invalid_parameter', `'${param}.tool_calls' is only allowed on assistant messages.`, childParam(param, 'tool_calls'));
  }
  const toolCalls = m.tool_calls?.length ? m.tool_calls : undefined;
  // An assistant turn may carry only tool calls; every other turn needs content.
  if (content === null && !(role === 'assistant' && toolCalls)) {
    throw apiError('missing_parameter', `Missing required parameter: '${param}.content'.`, childParam(param, 'content'));
  }
  if (role === 'tool' && m.tool_call_id === undefined) {
    throw apiError('missing_parameter', `Missing required parameter: '${param}.tool_call_id'.`, childParam(param, 'tool_call_id'));
  }

  const out: NormalizedChatMessage = { role, content };
  if (m.name !== undefined) out.name = m.name;
  if (toolCalls) {
    out.tool_calls = toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.function.name, arguments: c.function.arguments } }));
  }
  if (role === 'tool') out.tool_call_id = m.tool_call_id;
  if (role === 'assistant' && typeof m.reasoning_content === 'string') out.reasoning_content = m.reasoning_content;
  return out;
}

/** Role rules and canonical form for `messages` (already checked against the schema). */
export function normalizeMessages(messages: unknown[]): NormalizedChatMessage[] {
  return messages.map((m, i) => normalizeMessage(m as SchemaMessage, childParam('messages', i)));
}
