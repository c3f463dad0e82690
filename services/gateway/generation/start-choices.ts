import type { RequestStream } from '../../protocol/request.js';
import { apiError } from '../../common/errors/index.js';
import type { SamplingParams } from '../../protocol/request.js';
import type { NormalizedRequest } from '../openai/index.js';
import type { BackendImage, GenerationBackend } from '../backend.js';

/** Choice i of a seeded request gets its own seed, so n > 1 samples differ yet stay reproducible. */
export function choiceSeed(seed: number | undefined, index: number): number | undefined {
  if (seed === undefined) return undefined;
  return index === 0 ? seed : (seed + Math.imul(index, 0x9e3779b9)) >>> 0;
}


/** What every choice of one request shares besides the normalized body. */
export interface ChoiceInputs {
  promptTokenIds: number[];
  maxTokens: number;
  /** The served model's EOS ids (config, generation config and tokenizer): workers hold no tokenizer. */
  eosTokenIds: number[];
  /** Prefix-cache salt: the tenant and the request's cache_salt (auth.ts prefixCacheSalt). */
  cacheSalt?: string;
  traceparent?: string;
  images?: BackendImage[];
  /** Structured output: the grammar text (request-grammar.ts) every choice must follow. */
  grammar?: string;
}

/** Submits one generation request per choice (`n`), all with the same prompt. */
export function startChoices(backend: GenerationBackend, requestId: string, req: NormalizedRequest, c: ChoiceInputs): RequestStream[] {
  const streams: RequestStream[] = [];
  try {
    for (let i = 0; i < req.n; i++) {
      const sampling: SamplingParams = {
        ...req.sampling,
        maxTokens: c.maxTokens,
        seed: choiceSeed(req.sampling.seed, i),
        logprobs: req.logprobs ? req.topLogprobs : undefined,
      };
      if (req.logitBias) sampling.logitBias = req.logitBias;
      streams.push(backend.generate({ id: `${requestId}-${i}`, promptTokenIds: c.promptTokenIds, sampling, eosTokenIds: c.eosTokenIds, cacheSalt: c.cacheSalt, traceparent: c.traceparent, ...(c.images ? { images: c.images } : {}), ...(c.grammar !== undefined ? { grammar: c.grammar } : {}) }));
    }
  } catch (e) {
    for (const s of streams) s.abort();
    // The engine's own checks (token ids outside the vocabulary, a request larger than the KV
    // cache) are about the request, not the server.
    if (e instanceof RangeError) throw apiError('invalid_parameter', e.message, req.kind === 'chat' ? 'messages' : 'prompt');
    throw e;
  }
  return streams;
}
