import type { PromptImage } from './prompt-image.js';

/**
 * What the serving engine accepts and emits. Plain data: these cross process boundaries later
 * (gRPC between router and workers), so no class instances, no functions.
 */

export interface SamplingParams {
  /** 0 means greedy (argmax, ties to the lowest id). */
  temperature: number;
  /** 1 disables. */
  topP: number;
  /** 0 (or -1) disables. */
  topK: number;
  /** 0 disables. Keeps tokens with p >= minP * p_max. */
  minP: number;
  /** OpenAI semantics: subtract presencePenalty once per token id present in the output so far. */
  presencePenalty: number;
  /** OpenAI semantics: subtract frequencyPenalty * count of the token id in the output so far. */
  frequencyPenalty: number;
  /** 1 disables. CTRL / HF semantics over prompt + output ids: logit / r if > 0 else logit * r. */
  repetitionPenalty: number;
  /** Seed of the counter-based RNG; the engine picks one when absent, so every request is reproducible from its record. */
  seed?: number;
  /** Most new tokens to generate (>= 1). */
  maxTokens: number;
  /** Generation stops after emitting one of these (the token is part of the output). */
  stopTokenIds: number[];
  /** When false, the model's EOS ids also stop generation. */
  ignoreEos: boolean;
  /** Number of top alternatives to return per token (0..20); undefined = no logprobs at all. */
  logprobs?: number;
  /** OpenAI logit_bias: token id → value in [-100, 100] added to its logit before anything else. */
  logitBias?: Record<number, number>;
}

/**
 * One generation request as it travels through the cluster: gateway → router → workers (gRPC),
 * and into the engine (which adds its worker-local hooks, see services/engine/request-types.ts).
 */
export interface GenerationRequest {
  id: string;
  promptTokenIds: number[];
  sampling: SamplingParams;
  /**
   * Ids that end generation unless `sampling.ignoreEos` is set: the gateway sends the model's
   * EOS ids merged with its tokenizer's (workers hold no tokenizer). Absent: the worker's
   * model card's EOS ids.
   */
  eosTokenIds?: number[];
  /** Extra key mixed into prefix-cache block hashes (isolation between tenants). */
  cacheSalt?: string;
  /**
   * Decode migration: tokens this request already generated on another worker (and the client
   * already has). They are recomputed as context and count as output — sampling position,
   * penalties, max_tokens — so the continuation is what the lost worker would have produced.
   * Outputs carry only the tokens after them.
   */
  resumeOutputTokenIds?: number[];
  /** Images in the prompt (VL models): placeholder spans, mm_hash and, for prefill, embeddings. */
  images?: PromptImage[];
  /**
   * Structured output: a grammar (services/grammar's JSON text) the output must be a sentence of.
   * Applied as a token mask by whichever worker samples, replayed over resumed tokens.
   */
  grammar?: string;
  /** W3C traceparent of the request, carried across processes (gRPC metadata, NATS headers). */
  traceparent?: string;
}

export interface TokenLogprob {
  tokenId: number;
  logprob: number;
}

export interface GeneratedToken {
  tokenId: number;
  /** Present when the request asked for logprobs: log-softmax of the raw model logits. */
  logprob?: number;
  topLogprobs?: TokenLogprob[];
}

export type FinishReason = 'stop' | 'length' | 'abort' | 'error';

/** One update of one request: tokens produced since the last update, and whether it ended. */
export interface RequestOutput {
  requestId: string;
  tokens: GeneratedToken[];
  finished: boolean;
  finishReason?: FinishReason;
  /** The stop token id that ended it, when finishReason is 'stop' because of a token. */
  stopTokenId?: number;
  promptTokens: number;
  completionTokens: number;
  /** Prompt tokens whose KV came from the prefix cache. */
  cachedPromptTokens: number;
  error?: string;
  /** Why it failed, when known: no worker could take it (503) or a worker refused it as invalid (400). */
  errorCode?: 'unavailable' | 'invalid' | 'timeout';
  /** For prefillOnly requests, on the final output: the blocks holding the prompt's KV, still referenced; release with Engine.releaseBlocks. */
  prefilledBlocks?: number[];
}

/** A submitted request's output stream; `abort()` ends it and frees what it holds at once. */
export interface RequestStream extends AsyncIterable<RequestOutput> {
  readonly requestId: string;
  abort(): void;
}
