import { newResponseId } from './ids.js';
import type { OutputItem, ResponseObject, ResponseStatus, ResponsesEcho, ResponsesUsage } from './types.js';

/** What every event of one response shares: its id, creation time and model. */
export interface ResponseMeta {
  id: string;
  /** Unix seconds. */
  createdAt: number;
  model: string;
}

export function newResponseMeta(model: string): ResponseMeta {
  return { id: newResponseId(), createdAt: Math.floor(Date.now() / 1000), model };
}

export interface ResponseState {
  status: ResponseStatus;
  output: OutputItem[];
  usage?: ResponsesUsage;
  /** Set on a failed response: what went wrong, in the catalogue's words. */
  errorMessage?: string;
}

export function responsesUsage(u: { promptTokens: number; completionTokens: number; cachedTokens: number }): ResponsesUsage {
  return {
    input_tokens: u.promptTokens,
    input_tokens_details: { cached_tokens: u.cachedTokens, cache_write_tokens: 0 },
    output_tokens: u.completionTokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: u.promptTokens + u.completionTokens,
  };
}

/**
 * The `response` object, whole: ids, status, output, usage and the request's settings repeated.
 * The same builder serves the non-streaming body and every lifecycle event of a stream, so the
 * two can never disagree on shape.
 */
export function buildResponseObject(meta: ResponseMeta, echo: ResponsesEcho, s: ResponseState): ResponseObject {
  const finished = s.status !== 'in_progress';
  const out: ResponseObject = {
    id: meta.id,
    object: 'response',
    created_at: meta.createdAt,
    status: s.status,
    completed_at: finished ? Math.floor(Date.now() / 1000) : null,
    error: s.status === 'failed' ? { code: 'server_error', message: s.errorMessage ?? 'Generation failed.' } : null,
    // Only a length cut makes a response incomplete here (no content filter, no tool-call cap).
    incomplete_details: s.status === 'incomplete' ? { reason: 'max_output_tokens' } : null,
    model: meta.model,
    output: s.output,
    previous_response_id: null,
    store: false,
    background: false,
    truncation: 'disabled',
    service_tier: 'default',
    ...echo,
  };
  if (s.usage) out.usage = s.usage;
  return out;
}
