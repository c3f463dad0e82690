import { apiError } from '../../common/errors/index.js';
import type { NormalizedTool, ToolChoice } from './types.js';

/** Copies only the fields a tool definition has, so stray client fields never reach the template. */
export function normalizeTools(tools: unknown[] | undefined): NormalizedTool[] | undefined {
  if (tools === undefined || tools.length === 0) return undefined;
  const seen = new Set<string>();
  return tools.map((t, i) => {
    const fn = (t as NormalizedTool).function;
    if (seen.has(fn.name)) {
      throw apiError('invalid_parameter', `Duplicate tool name '${fn.name}' in 'tools'.`, `tools[${i}].function.name`);
    }
    seen.add(fn.name);
    const out: NormalizedTool = { type: 'function', function: { name: fn.name } };
    if (fn.description !== undefined) out.function.description = fn.description;
    if (fn.parameters !== undefined) out.function.parameters = fn.parameters;
    if (fn.strict !== undefined) out.function.strict = fn.strict;
    return out;
  });
}

function namedChoice(value: Record<string, unknown>): string | undefined {
  const fn = value.function;
  if (value.type !== 'function' || typeof fn !== 'object' || fn === null) return undefined;
  const name = (fn as { name?: unknown }).name;
  return typeof name === 'string' && name !== '' ? name : undefined;
}

/**
 * `tool_choice` in canonical form. Default follows OpenAI: 'auto' when tools are given, else
 * 'none'. Forcing a tool call makes no sense without tools, and a named tool must exist.
 */
export function normalizeToolChoice(raw: unknown, tools: NormalizedTool[] | undefined): ToolChoice {
  if (raw === undefined) return tools ? 'auto' : 'none';
  if (typeof raw === 'string') {
    if (raw !== 'none' && raw !== 'auto' && raw !== 'required') {
      throw apiError('invalid_parameter', `Invalid value for 'tool_choice': "${raw}". Supported values are: "none", "auto", "required" or {"type": "function", "function": {"name": ...}}.`, 'tool_choice');
    }
    if (raw === 'required' && !tools) {
      throw apiError('invalid_parameter', "'tool_choice' is \"required\" but no 'tools' were given.", 'tool_choice');
    }
    return raw;
  }
  const name = namedChoice(raw as Record<string, unknown>);
  if (name === undefined) {
    throw apiError('invalid_parameter', "Invalid value for 'tool_choice': an object must be {\"type\": \"function\", \"function\": {\"name\": <tool name>}}.", 'tool_choice');
  }
  if (!tools?.some((t) => t.function.name === name)) {
    throw apiError('tool_not_found', `'tool_choice' names the function '${name}', which is not among 'tools'.`, 'tool_choice.function.name');
  }
  return { type: 'function', function: { name } };
}
