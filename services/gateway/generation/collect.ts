import { apiError, type ApiError } from '../../common/errors/index.js';
import type { ChatFinishReason } from '../openai/index.js';
import type { ChoiceDelta, TokenLogprobInfo } from './choice-stream.js';
import type { RequestOutput } from '../../protocol/request.js';

/** A whole choice, accumulated from its deltas (non-streaming responses). */
export interface CollectedChoice {
  content: string;
  reasoning: string;
  toolCalls: Array<{ id: string; name: string; arguments: string }>;
  logprobs: TokenLogprobInfo[];
  finishReason: ChatFinishReason;
  error?: string;
  errorCode?: RequestOutput['errorCode'];
  promptTokens: number;
  completionTokens: number;
  cachedPromptTokens: number;
}

/** A delta's finish reason as a stream chunk reports it (null while running; an aborted choice reads as stopped). */
export function streamFinish(r: ChoiceDelta['finishReason']): ChatFinishReason | null {
  if (r === undefined || r === 'error') return null;
  return r === 'abort' ? 'stop' : r;
}

export async function collectChoice(deltas: AsyncIterable<ChoiceDelta>): Promise<CollectedChoice> {
  const c: CollectedChoice = { content: '', reasoning: '', toolCalls: [], logprobs: [], finishReason: 'stop', promptTokens: 0, completionTokens: 0, cachedPromptTokens: 0 };
  const byIndex = new Map<number, { id: string; name: string; arguments: string }>();
  for await (const d of deltas) {
    c.content += d.content;
    c.reasoning += d.reasoning;
    c.logprobs.push(...d.logprobs);
    for (const t of d.toolCalls) {
      let call = byIndex.get(t.index);
      if (!call) {
        call = { id: t.id ?? '', name: t.name ?? '', arguments: '' };
        byIndex.set(t.index, call);
        c.toolCalls.push(call);
      }
      if (t.id) call.id = t.id;
      if (t.name) call.name = t.name;
      call.arguments += t.argumentsDelta ?? '';
    }
    c.promptTokens = d.promptTokens || c.promptTokens;
    c.completionTokens = Math.max(c.completionTokens, d.completionTokens);
    c.cachedPromptTokens = d.cachedPromptTokens || c.cachedPromptTokens;
    if (d.finishReason) {
      c.finishReason = d.finishReason === 'abort' || d.finishReason === 'error' ? 'stop' : d.finishReason;
      c.error = d.finishReason === 'error' ? (d.error ?? 'generation failed') : undefined;
      c.errorCode = d.errorCode;
    }
  }
  return c;
}

/** The catalogue error for a failed choice (or delta): 503 when no worker could take it, else 500. */
export function choiceFailure(c: { error?: string; errorCode?: RequestOutput['errorCode'] }): ApiError {
  if (c.errorCode === 'timeout') return apiError('request_timeout', `The request did not finish within the gateway's time limit (${c.error}); shorten max_tokens or retry.`);
  if (c.errorCode === 'unavailable') return apiError('server_overloaded', `No worker can take this request right now (${c.error}); retry shortly.`);
  if (c.errorCode === 'invalid') return apiError('invalid_parameter', `The request was refused: ${c.error}`);
  return apiError('internal_error', `Generation failed: ${c.error ?? 'unknown error'}`);
}
