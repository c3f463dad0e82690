import { apiError } from '../../../common/errors/index.js';
import { normalizeContentParts } from '../content-parts.js';
import { childParam } from '../param-path.js';
import type { ChatRole, NormalizedChatMessage, NormalizedContentPart } from '../types.js';

/**
 * The Responses API's `input` (and `instructions`) as the chat messages the chat template knows:
 *
 * - a string is one user message;
 * - message items (`{role, content}`, with or without `type: 'message'`) keep their role, with
 *   `developer` folded into `system` as on the chat route;
 * - `function_call` items become `tool_calls` of an assistant turn: consecutive calls share one
 *   turn, and a call right after an assistant message joins that message, as in a chat transcript;
 * - `function_call_output` items become `tool` messages answering their `call_id`;
 * - `reasoning` items (a previous response's output sent back) become the `reasoning_content`
 *   of the assistant turn that follows them.
 *
 * Items that need server-side state (`item_reference`) or tools this server does not run are
 * refused by path, so a client learns which item it cannot send.
 */

type RawItem = Record<string, unknown>;

const ROLES: Record<string, ChatRole> = { user: 'user', assistant: 'assistant', system: 'system', developer: 'system' };

/** Item types of built-in OpenAI tools: their calls and outputs can only come from OpenAI's servers. */
const BUILT_IN_TOOL_ITEMS = [
  'file_search_call', 'web_search_call', 'computer_call', 'computer_call_output', 'image_generation_call',
  'code_interpreter_call', 'local_shell_call', 'local_shell_call_output', 'shell_call', 'shell_call_output',
  'apply_patch_call', 'apply_patch_call_output', 'mcp_list_tools', 'mcp_approval_request', 'mcp_approval_response',
  'mcp_call', 'custom_tool_call', 'custom_tool_call_output', 'tool_search_call', 'tool_search_output',
];

const missing = (param: string) => apiError('missing_parameter', `Missing required parameter: '${param}'.`, param);
const notString = (param: string, v: unknown) => apiError('invalid_parameter', `Invalid type for '${param}': expected a string, but got ${v === null ? 'null' : typeof v}.`, param);

/** A required string field of an item. */
function stringField(item: RawItem, key: string, param: string): string {
  const v = item[key];
  if (v === undefined) throw missing(childParam(param, key));
  if (typeof v !== 'string') throw notString(childParam(param, key), v);
  return v;
}

/** One content part in the chat route's spelling; normalizeContentParts then applies the chat rules. */
function chatPart(part: unknown, param: string): Record<string, unknown> {
  if (typeof part !== 'object' || part === null || Array.isArray(part)) {
    throw apiError('invalid_parameter', `Invalid type for '${param}': expected an object.`, param);
  }
  const p = part as RawItem;
  switch (p.type) {
    // Assistant turns carry output_text (and refusal) parts; both read as the turn's text.
    case 'input_text':
    case 'output_text':
      return { type: 'text', text: stringField(p, 'text', param) };
    case 'refusal':
      return { type: 'text', text: stringField(p, 'refusal', param) };
    case 'input_image': {
      if (p.image_url === undefined) {
        if (p.file_id !== undefined) throw apiError('unsupported_parameter', `Images by 'file_id' are not supported (no Files API here); send 'image_url' with a data: URL ('${param}').`, childParam(param, 'file_id'));
        throw missing(childParam(param, 'image_url'));
      }
      const url = stringField(p, 'image_url', param);
      const detail = p.detail === 'low' || p.detail === 'high' || p.detail === 'auto' ? p.detail : undefined;
      return { type: 'image_url', image_url: detail ? { url, detail } : { url } };
    }
    case 'input_file':
      throw apiError('unsupported_parameter', `File inputs are not supported ('${param}' has type 'input_file').`, param);
    case 'input_audio':
      throw apiError('unsupported_parameter', `Audio inputs are not supported ('${param}' has type 'input_audio').`, param);
    case undefined:
      throw missing(childParam(param, 'type'));
    default:
      throw apiError('invalid_parameter', `Invalid content part type ${JSON.stringify(p.type)} at '${param}'; expected 'input_text', 'input_image' or 'output_text'.`, childParam(param, 'type'));
  }
}

function messageContent(item: RawItem, param: string, role: ChatRole): string | NormalizedContentPart[] {
  const content = item.content;
  const at = childParam(param, 'content');
  if (content === undefined || content === null) throw missing(at);
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) {
    throw apiError('invalid_parameter', `Invalid type for '${at}': expected a string or an array of content parts.`, at);
  }
  return normalizeContentParts(content.map((p, i) => chatPart(p, childParam(at, i))), at, role);
}

function toolOutput(item: RawItem, param: string): string {
  const out = item.output;
  const at = childParam(param, 'output');
  if (out === undefined || out === null) throw missing(at);
  if (typeof out === 'string') return out;
  if (!Array.isArray(out)) throw apiError('invalid_parameter', `Invalid type for '${at}': expected a string or an array of content parts.`, at);
  // Tool results are text to the chat template: images and files in them have nowhere to go.
  return out
    .map((p, i) => {
      const part = chatPart(p, childParam(at, i));
      if (part.type !== 'text') throw apiError('unsupported_parameter', `Only text is supported in a function call output ('${childParam(at, i)}').`, childParam(at, i));
      return part.text as string;
    })
    .join('');
}

function reasoningText(item: RawItem): string {
  // A previous response's own reasoning item carries the text in `content`; OpenAI's carry only
  // summaries, which are the closest thing there is.
  const parts = (Array.isArray(item.content) && item.content.length > 0 ? item.content : item.summary) as unknown;
  if (!Array.isArray(parts)) return '';
  return parts.map((p) => (typeof p === 'object' && p !== null && typeof (p as RawItem).text === 'string' ? (p as RawItem).text as string : '')).join('');
}

/** Builds the message list item by item; keeps what the next item needs to know. */
class Transcript {
  readonly messages: NormalizedChatMessage[] = [];
  /** For each message, the request path it came from (`instructions`, `input[3]`). */
  readonly sources: string[] = [];
  private readonly callIds = new Set<string>();
  private pendingReasoning: string | undefined;
  /** The assistant message the next function_call joins (the one just added), if any. */
  private openAssistant: NormalizedChatMessage | undefined;

  message(item: RawItem, param: string): void {
    const role = ROLES[item.role as string];
    if (item.role === undefined) throw missing(childParam(param, 'role'));
    if (role === undefined) {
      throw apiError('invalid_parameter', `Invalid value for '${childParam(param, 'role')}': ${JSON.stringify(item.role)}. Supported values are: "user", "assistant", "system", "developer".`, childParam(param, 'role'));
    }
    const msg: NormalizedChatMessage = { role, content: messageContent(item, param, role) };
    if (role === 'assistant') this.takeReasoning(msg);
    this.add(msg, param);
    this.openAssistant = role === 'assistant' ? msg : undefined;
  }

  functionCall(item: RawItem, param: string): void {
    const callId = stringField(item, 'call_id', param);
    const name = stringField(item, 'name', param);
    const args = stringField(item, 'arguments', param);
    let turn = this.openAssistant;
    if (!turn) {
      turn = { role: 'assistant', content: null };
      this.takeReasoning(turn);
      this.add(turn, param);
      this.openAssistant = turn;
    }
    (turn.tool_calls ??= []).push({ id: callId, type: 'function', function: { name, arguments: args } });
    this.callIds.add(callId);
  }

  functionCallOutput(item: RawItem, param: string): void {
    const callId = stringField(item, 'call_id', param);
    // OpenAI refuses an output whose call it cannot see; here the call must be in this input.
    if (!this.callIds.has(callId)) {
      throw apiError('invalid_parameter', `No function call with call_id '${callId}' precedes this output in 'input' (responses are not stored, so the call itself must be sent back).`, childParam(param, 'call_id'));
    }
    this.add({ role: 'tool', content: toolOutput(item, param), tool_call_id: callId }, param);
    this.openAssistant = undefined;
  }

  reasoning(item: RawItem): void {
    const text = reasoningText(item);
    if (text !== '') this.pendingReasoning = (this.pendingReasoning ?? '') + text;
  }

  add(msg: NormalizedChatMessage, source: string): void {
    this.messages.push(msg);
    this.sources.push(source);
  }

  private takeReasoning(msg: NormalizedChatMessage): void {
    if (this.pendingReasoning === undefined) return;
    msg.reasoning_content = this.pendingReasoning;
    this.pendingReasoning = undefined;
  }
}

export interface InputMessages {
  messages: NormalizedChatMessage[];
  /** Request path of each message, so later errors about `messages[i]` can name the input item. */
  sources: string[];
}

/** `instructions` then `input`, as chat messages (the schema has checked the outer types). */
export function inputToMessages(input: string | unknown[], instructions?: string): InputMessages {
  const t = new Transcript();
  if (instructions !== undefined) t.add({ role: 'system', content: instructions }, 'instructions');
  if (typeof input === 'string') {
    t.add({ role: 'user', content: input }, 'input');
    return t;
  }
  input.forEach((raw, i) => {
    const param = childParam('input', i);
    const item = raw as RawItem;
    const type = item.type ?? 'message';
    if (type === 'message') return t.message(item, param);
    if (type === 'function_call') return t.functionCall(item, param);
    if (type === 'function_call_output') return t.functionCallOutput(item, param);
    if (type === 'reasoning') return t.reasoning(item);
    if (type === 'item_reference') {
      throw apiError('unsupported_parameter', `Item references are not supported: responses are not stored on this server; send the item itself ('${param}').`, param);
    }
    if (BUILT_IN_TOOL_ITEMS.includes(type as string)) {
      throw apiError('unsupported_parameter', `Input items of type '${String(type)}' are not supported: only function tools run here ('${param}').`, childParam(param, 'type'));
    }
    throw apiError('invalid_parameter', `Invalid input item type ${JSON.stringify(type)} at '${param}'; expected 'message', 'function_call', 'function_call_output' or 'reasoning'.`, childParam(param, 'type'));
  });
  // Reasoning items alone add no turn: the model would be asked to answer nothing.
  if (t.messages.length === (instructions === undefined ? 0 : 1)) {
    throw apiError('invalid_parameter', "'input' has no message: reasoning items alone are not a conversation.", 'input');
  }
  return t;
}
