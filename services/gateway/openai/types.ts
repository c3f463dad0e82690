import type { SamplingParams } from '../../protocol/request.js';

/**
 * Requests after validation: every field checked, defaults applied, OpenAI spellings turned into
 * one canonical form. Everything downstream of the validator reads these, never the raw body.
 */

/** `developer` is folded into `system`: chat templates (ERNIE's included) only know system prompts. */
export type ChatRole = 'system' | 'user' | 'assistant' | 'tool';

export type NormalizedToolCall = {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
};

/**
 * A type alias (not an interface) on purpose, so it stays assignable to the chat template's
 * index-signature `ChatMessage`; snake_case fields reach the template under their OpenAI names.
 */
export type NormalizedChatMessage = {
  role: ChatRole;
  /**
   * Text parts are joined into one string; a user turn with images keeps its parts (text and
   * image_url, in order) so the chat template can place each image. Null only for an assistant
   * turn that only calls tools.
   */
  content: string | NormalizedContentPart[] | null;
  name?: string;
  tool_calls?: NormalizedToolCall[];
  tool_call_id?: string;
  reasoning_content?: string;
};

export type NormalizedContentPart =
  | { type: 'text'; text: string }
  | { type: 'image_url'; image_url: { url: string; detail?: 'auto' | 'low' | 'high' } };

export type NormalizedTool = {
  type: 'function';
  function: {
    name: string;
    description?: string;
    parameters?: Record<string, unknown>;
    strict?: boolean;
  };
};

export type ToolChoice = 'none' | 'auto' | 'required' | { type: 'function'; function: { name: string } };

/**
 * `response_format` (chat, and /v1/completions as an extension) or the Responses API's
 * `text.format`, normalized. Absent means plain text.
 */
export type NormalizedResponseFormat =
  | { type: 'json_object' }
  | {
      type: 'json_schema';
      name: string;
      schema: Record<string, unknown>;
      strict: boolean;
      /** Where the schema sits in the request body, for error `param`s (default response_format.json_schema.schema). */
      param?: string;
    };

export type NormalizedSampling = Omit<SamplingParams, 'maxTokens'>;

export interface NormalizedRequestBase {
  model: string;
  n: number;
  stream: boolean;
  /** Send a final usage chunk (stream_options.include_usage); always false when not streaming. */
  includeUsage: boolean;
  /** Completion-token budget the client asked for; undefined means "whatever the context leaves". */
  maxTokens?: number;
  /** Which field maxTokens came from, so later errors can name it. */
  maxTokensParam?: 'max_tokens' | 'max_completion_tokens' | 'max_output_tokens';
  stop: string[];
  logprobs: boolean;
  /** Alternatives per token (0 when logprobs is false). */
  topLogprobs: number;
  sampling: NormalizedSampling;
  user?: string;
  /** `cache_salt`: mixed with the tenant into the prefix-cache key (gateway/auth.ts prefixCacheSalt). */
  cacheSalt?: string;
  /** Structured output the generation is constrained to; absent: free text. */
  responseFormat?: NormalizedResponseFormat;
  /** `logit_bias`: token id → bias in [-100, 100] added to its logit before sampling. */
  logitBias?: Record<number, number>;
}

export interface NormalizedChatRequest extends NormalizedRequestBase {
  kind: 'chat';
  messages: NormalizedChatMessage[];
  tools?: NormalizedTool[];
  toolChoice: ToolChoice;
  /** `parallel_tool_calls` (default true): whether a forced tool call may be several calls. */
  parallelToolCalls: boolean;
  enableThinking: boolean;
  /** Extra template variables from the client (includes enable_thinking when given). */
  chatTemplateKwargs: Record<string, unknown>;
}

export interface NormalizedCompletionRequest extends NormalizedRequestBase {
  kind: 'completion';
  /** Text to tokenize, or token ids used as they are. */
  prompt: string | number[];
}

export type NormalizedRequest = NormalizedChatRequest | NormalizedCompletionRequest;
