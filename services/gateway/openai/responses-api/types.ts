/**
 * The Responses API objects this server sends, in OpenAI's shapes (the `openai` client's types
 * are checked against these in responses-api.test.ts).
 */

export type ItemStatus = 'in_progress' | 'completed' | 'incomplete';
export type ResponseStatus = 'in_progress' | 'completed' | 'incomplete' | 'failed';

export interface OutputTextPart {
  type: 'output_text';
  text: string;
  annotations: never[];
}

export interface ReasoningTextPart {
  type: 'reasoning_text';
  text: string;
}

export interface MessageItem {
  type: 'message';
  id: string;
  role: 'assistant';
  status: ItemStatus;
  content: OutputTextPart[];
}

export interface FunctionCallItem {
  type: 'function_call';
  id: string;
  call_id: string;
  name: string;
  arguments: string;
  status: ItemStatus;
}

/** The model's thinking text (vLLM's form): in `content`, with no summary. */
export interface ReasoningItem {
  type: 'reasoning';
  id: string;
  summary: never[];
  content: ReasoningTextPart[];
  status: ItemStatus;
}

export type OutputItem = MessageItem | FunctionCallItem | ReasoningItem;

export interface ResponsesUsage {
  input_tokens: number;
  /** cache_write_tokens: what the prefix cache keeps is not reported per request; always 0. */
  input_tokens_details: { cached_tokens: number; cache_write_tokens: number };
  output_tokens: number;
  /** Reasoning tokens are not counted apart from the others here; always 0 (docs/responses-api.md). */
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

export interface ResponsesFunctionTool {
  type: 'function';
  name: string;
  description?: string | null;
  parameters: Record<string, unknown> | null;
  strict: boolean | null;
}

export type ResponsesToolChoice = 'none' | 'auto' | 'required' | { type: 'function'; name: string };

export type ResponsesTextFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; name: string; schema: Record<string, unknown>; strict: boolean; description?: string };

/** Request settings a response object repeats back, in their effective (defaulted) values. */
export interface ResponsesEcho {
  instructions: string | null;
  max_output_tokens: number | null;
  temperature: number;
  top_p: number;
  tools: ResponsesFunctionTool[];
  tool_choice: ResponsesToolChoice;
  parallel_tool_calls: boolean;
  text: { format: ResponsesTextFormat };
  metadata: Record<string, string>;
  reasoning: { effort: 'none' | 'minimal' | 'low' | 'medium' | 'high' | 'xhigh' | 'max' | null; summary: 'auto' | 'concise' | 'detailed' | null };
  user?: string;
}

export interface ResponseObject extends ResponsesEcho {
  id: string;
  object: 'response';
  created_at: number;
  status: ResponseStatus;
  /** Unix seconds when generation ended; null while in progress. */
  completed_at: number | null;
  error: { code: 'server_error'; message: string } | null;
  incomplete_details: { reason: 'max_output_tokens' } | null;
  model: string;
  output: OutputItem[];
  previous_response_id: null;
  /** Always false: responses are not kept, whatever the request's `store` said. */
  store: false;
  background: false;
  truncation: 'disabled';
  service_tier: 'default';
  /** Absent until the response has finished (the SDK's type has no null here). */
  usage?: ResponsesUsage;
}

interface Sequenced {
  sequence_number: number;
}

type LifecycleType = 'response.created' | 'response.in_progress' | 'response.completed' | 'response.incomplete' | 'response.failed';

/** One union member per event type, so `Extract<…, {type: X}>` narrows to exactly one. */
export type ResponsesStreamEvent = Sequenced &
  (
    | { [T in LifecycleType]: { type: T; response: ResponseObject } }[LifecycleType]
    | { [T in 'response.output_item.added' | 'response.output_item.done']: { type: T; output_index: number; item: OutputItem } }['response.output_item.added' | 'response.output_item.done']
    | { [T in 'response.content_part.added' | 'response.content_part.done']: { type: T; item_id: string; output_index: number; content_index: number; part: OutputTextPart | ReasoningTextPart } }['response.content_part.added' | 'response.content_part.done']
    | { type: 'response.output_text.delta'; item_id: string; output_index: number; content_index: number; delta: string; logprobs: never[] }
    | { type: 'response.output_text.done'; item_id: string; output_index: number; content_index: number; text: string; logprobs: never[] }
    | { type: 'response.reasoning_text.delta'; item_id: string; output_index: number; content_index: number; delta: string }
    | { type: 'response.reasoning_text.done'; item_id: string; output_index: number; content_index: number; text: string }
    | { type: 'response.function_call_arguments.delta'; item_id: string; output_index: number; delta: string }
    | { type: 'response.function_call_arguments.done'; item_id: string; output_index: number; name: string; arguments: string }
  );
