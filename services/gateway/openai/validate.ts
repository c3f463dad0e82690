import { checkModel } from './model.js';
import { requestObject } from './body.js';
import { normalizeBase } from './common.js';
import { resolveMaxTokens } from './context-length.js';
import type { GatewayLimits } from './limits.js';
import { chatLogprobs, completionLogprobs } from './logprobs-request.js';
import { normalizeMessages } from './messages.js';
import { normalizePrompt } from './prompt.js';
import { assertMatchesSchema } from './schema-validator.js';
import { normalizeTemplateKwargs } from './template-kwargs.js';
import { normalizeToolChoice, normalizeTools } from './tools.js';
import type { NormalizedChatRequest, NormalizedCompletionRequest } from './types.js';
import { rejectUnsupported } from './unsupported.js';

/**
 * Body of POST /v1/chat/completions → normalized request, or an ApiError naming the field.
 * Order: shape, unsupported features, schema, model, then the rules that need deployment limits.
 */
export function parseChatCompletionRequest(body: unknown, ctx: GatewayLimits): NormalizedChatRequest {
  const raw = requestObject(body);
  rejectUnsupported('chat', raw);
  assertMatchesSchema('chat', raw);
  checkModel(raw.model as string, ctx.models);
  const base = normalizeBase('chat', raw, ctx, chatLogprobs(raw, ctx));
  const messages = normalizeMessages(raw.messages as unknown[]);
  const tools = normalizeTools(raw.tools as unknown[] | undefined);
  const toolChoice = normalizeToolChoice(raw.tool_choice, tools);
  const kwargs = normalizeTemplateKwargs(raw.chat_template_kwargs as Record<string, unknown> | undefined);
  const req: NormalizedChatRequest = { kind: 'chat', ...base, messages, toolChoice, parallelToolCalls: raw.parallel_tool_calls !== false, ...kwargs };
  if (tools) req.tools = tools;
  return req;
}

/** Body of POST /v1/completions → normalized request, or an ApiError naming the field. */
export function parseCompletionRequest(body: unknown, ctx: GatewayLimits): NormalizedCompletionRequest {
  const raw = requestObject(body);
  rejectUnsupported('completion', raw);
  assertMatchesSchema('completion', raw);
  checkModel(raw.model as string, ctx.models);
  const base = normalizeBase('completion', raw, ctx, completionLogprobs(raw, ctx));
  const prompt = normalizePrompt(raw.prompt as string | Array<number | string | number[]>);
  const req: NormalizedCompletionRequest = { kind: 'completion', ...base, prompt };
  // Token-id prompts have a known length already, so an oversized one is refused before any work.
  if (Array.isArray(prompt)) resolveMaxTokens(req, prompt.length, ctx);
  return req;
}
