/** Response-side builders of the OpenAI API, gathered in one import for the route handlers. */
export { newChatMeta, newCompletionMeta, type ResponseMeta } from './ids.js';
export { buildUsage, type Usage, type UsageInput } from './usage.js';
export { type ChatFinishReason, type CompletionFinishReason } from './finish-reason.js';
export type { TokenLogprobInput } from './token-logprobs.js';
export { buildChatLogprobs, type ChatLogprobs, type ChatTokenLogprob, type ChatTopLogprob } from './chat-logprobs.js';
export { buildLegacyLogprobs, type LegacyLogprobs } from './legacy-logprobs.js';
export {
  buildChatCompletion,
  type ChatChoice,
  type ChatChoiceInput,
  type ChatCompletionObject,
  type ChatResponseMessage,
  type ChatToolCall,
} from './chat-response.js';
export {
  buildChatCompletionChunk,
  buildChatUsageChunk,
  type ChatChunkChoice,
  type ChatChunkChoiceInput,
  type ChatCompletionChunkObject,
  type ChatDelta,
  type ChatDeltaToolCall,
} from './chat-chunk.js';
export {
  buildTextCompletion,
  buildTextCompletionChunk,
  buildTextCompletionUsageChunk,
  type CompletionChoiceInput,
  type CompletionChoiceObject,
  type TextCompletionChunkObject,
  type TextCompletionObject,
} from './completion-response.js';
