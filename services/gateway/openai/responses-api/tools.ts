import { apiError } from '../../../common/errors/index.js';
import { TOOL_NAME_PATTERN } from '../chat-schema.js';
import { childParam } from '../param-path.js';
import type { NormalizedTool, ToolChoice } from '../types.js';

/**
 * Responses API tools are flat (`{type: 'function', name, parameters}`), chat tools nest the
 * function (`{type: 'function', function: {name, parameters}}`); the chat template takes the
 * latter. Only function tools exist here: the built-in ones (web search, file search, computer
 * use, ...) would need OpenAI's servers.
 */
const NAME = new RegExp(TOOL_NAME_PATTERN);

function functionTool(t: Record<string, unknown>, param: string): NormalizedTool {
  if (t.type !== 'function') {
    throw apiError('unsupported_parameter', `Tools of type ${JSON.stringify(t.type)} are not supported: only 'function' tools run here ('${param}').`, childParam(param, 'type'));
  }
  const name = t.name;
  if (name === undefined) throw apiError('missing_parameter', `Missing required parameter: '${childParam(param, 'name')}'.`, childParam(param, 'name'));
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw apiError('invalid_parameter', `Invalid value for '${childParam(param, 'name')}': a function name is 1 to 64 letters, digits, '_' or '-'.`, childParam(param, 'name'));
  }
  const out: NormalizedTool = { type: 'function', function: { name } };
  const optional = (key: 'description' | 'parameters' | 'strict', type: 'string' | 'object' | 'boolean') => {
    const v = t[key];
    if (v === undefined || v === null) return;
    if (typeof v !== type || Array.isArray(v)) {
      throw apiError('invalid_parameter', `Invalid type for '${childParam(param, key)}': expected ${type === 'object' ? 'an object' : `a ${type}`}.`, childParam(param, key));
    }
    (out.function as Record<string, unknown>)[key] = v;
  };
  optional('description', 'string');
  optional('parameters', 'object');
  optional('strict', 'boolean');
  return out;
}

/** `tools` as chat tools (only the fields a tool has, so stray client fields never reach the template). */
export function responsesTools(tools: unknown[] | undefined): NormalizedTool[] | undefined {
  if (tools === undefined || tools.length === 0) return undefined;
  const seen = new Set<string>();
  return tools.map((raw, i) => {
    const param = childParam('tools', i);
    const tool = functionTool(raw as Record<string, unknown>, param);
    if (seen.has(tool.function.name)) throw apiError('invalid_parameter', `Duplicate tool name '${tool.function.name}' in 'tools'.`, childParam(param, 'name'));
    seen.add(tool.function.name);
    return tool;
  });
}

/**
 * `tool_choice` in the chat form. Defaults as on chat: 'auto' with tools, 'none' without.
 * `{type: 'function', name}` names a tool that must be among `tools`; the other object forms
 * (allowed_tools, built-in tool types) are refused.
 */
export function responsesToolChoice(raw: unknown, tools: NormalizedTool[] | undefined): ToolChoice {
  if (raw === undefined) return tools ? 'auto' : 'none';
  if (typeof raw === 'string') {
    if (raw !== 'none' && raw !== 'auto' && raw !== 'required') {
      throw apiError('invalid_parameter', `Invalid value for 'tool_choice': ${JSON.stringify(raw)}. Supported values are: "none", "auto", "required" or {"type": "function", "name": ...}.`, 'tool_choice');
    }
    if (raw === 'required' && !tools) throw apiError('invalid_parameter', "'tool_choice' is \"required\" but no 'tools' were given.", 'tool_choice');
    return raw;
  }
  const choice = raw as Record<string, unknown>;
  if (choice.type !== 'function') {
    throw apiError('unsupported_parameter', `'tool_choice' of type ${JSON.stringify(choice.type)} is not supported: use "none", "auto", "required" or {"type": "function", "name": ...}.`, 'tool_choice.type');
  }
  if (typeof choice.name !== 'string' || choice.name === '') {
    throw apiError('invalid_parameter', "Invalid value for 'tool_choice': a function choice is {\"type\": \"function\", \"name\": <tool name>}.", 'tool_choice.name');
  }
  if (!tools?.some((t) => t.function.name === choice.name)) {
    throw apiError('invalid_parameter', `'tool_choice' names the function '${choice.name}', which is not among 'tools'.`, 'tool_choice.name');
  }
  return { type: 'function', function: { name: choice.name } };
}
