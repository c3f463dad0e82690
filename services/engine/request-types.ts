import type { GenerationRequest } from '../protocol/request.js';

export type { FinishReason, GeneratedToken, RequestOutput, RequestStream, SamplingParams, TokenLogprob } from '../protocol/request.js';

/** A generation request inside this worker's engine: the cluster's request plus worker-local hooks. */
export interface EngineRequest extends GenerationRequest {
  /**
   * Disaggregated prefill: compute the prompt, sample the first token, then stop and hand the
   * prompt's KV blocks to the caller (RequestOutput.prefilledBlocks) instead of freeing them.
   */
  prefillOnly?: boolean;
  /**
   * Layer-wise KV hand-off for prefill-only requests: called after each layer of each forward
   * step that computed part of this prompt, once that layer's KV is in the cache (later layers may
   * still be computing). Layers arrive in order within a step.
   */
  onKvWritten?: (progress: KvLayerProgress) => void;
}

export interface KvLayerProgress {
  layer: number;
  /** The sequence's physical KV blocks (this worker's ids). */
  blockTable: readonly number[];
  /** Blocks [0, completeBlocks) of the table hold final KV for `layer` once this call is made. */
  completeBlocks: number;
}
