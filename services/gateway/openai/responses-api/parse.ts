import { apiError } from '../../../common/errors/index.js';
import { requestObject } from '../body.js';
import { maxCompletionTokens, type GatewayLimits } from '../limits.js';
import { checkModel } from '../model.js';
import { normalizeSampling } from '../sampling.js';
import { assertMatchesSchema } from '../schema-validator.js';
import type { NormalizedChatRequest, NormalizedResponseFormat, NormalizedTool, ToolChoice } from '../types.js';
import { inputToMessages } from './input-items.js';
import { responsesTextFormat } from './text-format.js';
import { responsesToolChoice, responsesTools } from './tools.js';
import type { ResponsesEcho, ResponsesTextFormat, ResponsesToolChoice } from './types.js';
import { rejectUnsupportedResponsesFields } from './unsupported.js';

export interface ParsedResponsesRequest {
  /** What the chat pipeline runs: the same template, parsers and constraints as a chat request. */
  chat: NormalizedChatRequest;
  /** What the response object repeats back. */
  echo: ResponsesEcho;
  /** Request path of each chat message (see input-items.ts), for errors raised downstream. */
  messageSources: string[];
}

type Effort = ResponsesEcho['reasoning']['effort'];

/**
 * Thinking follows `reasoning.effort`: any effort above 'minimal' turns the template's
 * enable_thinking on, 'none' / 'minimal' / absent leave it off (off is the chat route's default
 * too). The models served here have no finer effort control than on/off.
 */
function thinkingFor(effort: Effort): boolean {
  return effort !== null && effort !== 'none' && effort !== 'minimal';
}

function maxOutputTokens(value: number | undefined, limits: GatewayLimits): number | undefined {
  if (value === undefined) return undefined;
  const upper = maxCompletionTokens(limits);
  if (value < 1 || value > upper) {
    throw apiError('max_tokens_out_of_range', `'max_output_tokens' must be between 1 and ${upper}, got ${value}.`, 'max_output_tokens');
  }
  return value;
}

function echoTools(tools: NormalizedTool[] | undefined): ResponsesEcho['tools'] {
  return (tools ?? []).map((t) => {
    const out: ResponsesEcho['tools'][number] = { type: 'function', name: t.function.name, parameters: t.function.parameters ?? null, strict: t.function.strict ?? null };
    if (t.function.description !== undefined) out.description = t.function.description;
    return out;
  });
}

function echoToolChoice(c: ToolChoice): ResponsesToolChoice {
  return typeof c === 'string' ? c : { type: 'function', name: c.function.name };
}

function echoFormat(f: NormalizedResponseFormat | undefined, description: string | undefined): ResponsesTextFormat {
  if (f === undefined) return { type: 'text' };
  if (f.type === 'json_object' || description === undefined) return f;
  return { ...f, description };
}

/**
 * Body of POST /v1/responses → the chat request it amounts to, or an ApiError naming the field.
 * Order as for chat: shape, unsupported features (previous_response_id first), schema, model,
 * then the rules that need deployment limits.
 */
export function parseResponsesRequest(body: unknown, limits: GatewayLimits): ParsedResponsesRequest {
  const raw = requestObject(body);
  rejectUnsupportedResponsesFields(raw);
  assertMatchesSchema('responses', raw);
  checkModel(raw.model as string, limits.models);
  const stream = raw.stream === true;
  if (raw.stream_options !== undefined && !stream) {
    throw apiError('invalid_parameter', "'stream_options' is only allowed when 'stream' is true.", 'stream_options');
  }
  const maxTokens = maxOutputTokens(raw.max_output_tokens as number | undefined, limits);
  const instructions = raw.instructions as string | undefined;
  const { messages, sources } = inputToMessages(raw.input as string | unknown[], instructions);
  const tools = responsesTools(raw.tools as unknown[] | undefined);
  const toolChoice = responsesToolChoice(raw.tool_choice, tools);
  const text = raw.text as { format?: { type: 'text' | 'json_object' | 'json_schema'; description?: string } } | undefined;
  const responseFormat = responsesTextFormat(text as Parameters<typeof responsesTextFormat>[0]);
  const reasoning = (raw.reasoning ?? {}) as { effort?: Effort; summary?: ResponsesEcho['reasoning']['summary']; generate_summary?: ResponsesEcho['reasoning']['summary'] };
  const effort = reasoning.effort ?? null;
  const enableThinking = thinkingFor(effort);
  const sampling = normalizeSampling({ temperature: raw.temperature, top_p: raw.top_p }, { logprobs: false, topLogprobs: 0 });
  // `safety_identifier` is the newer spelling of `user`; both only label the request.
  const user = (raw.user ?? raw.safety_identifier) as string | undefined;

  const chat: NormalizedChatRequest = {
    kind: 'chat',
    model: raw.model as string,
    n: 1,
    stream,
    includeUsage: false,
    stop: [],
    logprobs: false,
    topLogprobs: 0,
    sampling,
    messages,
    toolChoice,
    parallelToolCalls: raw.parallel_tool_calls !== false,
    enableThinking,
    chatTemplateKwargs: enableThinking ? { enable_thinking: true } : {},
  };
  if (maxTokens !== undefined) {
    chat.maxTokens = maxTokens;
    chat.maxTokensParam = 'max_output_tokens';
  }
  if (tools) chat.tools = tools;
  if (responseFormat) chat.responseFormat = responseFormat;
  if (user !== undefined) chat.user = user;

  const echo: ResponsesEcho = {
    instructions: instructions ?? null,
    max_output_tokens: maxTokens ?? null,
    temperature: sampling.temperature,
    top_p: sampling.topP,
    tools: echoTools(tools),
    tool_choice: echoToolChoice(toolChoice),
    parallel_tool_calls: chat.parallelToolCalls,
    text: { format: echoFormat(responseFormat, text?.format?.description) },
    metadata: (raw.metadata ?? {}) as Record<string, string>,
    reasoning: { effort, summary: reasoning.summary ?? reasoning.generate_summary ?? null },
  };
  if (raw.user !== undefined) echo.user = raw.user as string;
  return { chat, echo, messageSources: sources };
}
