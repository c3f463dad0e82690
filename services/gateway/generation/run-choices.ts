import { prefixCacheSalt, type ApiKey } from '../auth.js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { toOpenAIErrorBody } from '../../common/errors/index.js';
import { buildUsage, resolveMaxTokens, type NormalizedRequest, type Usage } from '../openai/index.js';
import type { BackendImage } from '../backend.js';
import type { GatewayContext } from '../context.js';
import { addCompletionTokens, gatewayTraceparent } from '../request-tracing.js';
import { choiceDeltas, type ChoiceDelta, type ChoiceStreamOptions } from './choice-stream.js';
import { choiceFailure, collectChoice, type CollectedChoice } from './collect.js';
import { abortOnDisconnect } from './disconnect.js';
import { observeChoice } from './observe.js';
import { SseWriter } from './sse.js';
import { startChoices } from './start-choices.js';
import { requestGrammar } from './request-grammar.js';
import { checkLogitBias } from './logit-bias.js';

/**
 * What both generation routes share once the prompt is tokenized: the completion budget,
 * admission control, the trace context, one engine request per choice, abort on disconnect,
 * metrics — and then either the collected choices or a server-sent-event stream.
 */
export function launchChoices(
  ctx: GatewayContext,
  request: FastifyRequest,
  reply: FastifyReply,
  req: NormalizedRequest,
  promptIds: number[],
  requestId: string,
  opts: ChoiceStreamOptions,
  arrivalMs: number,
  images?: BackendImage[],
): AsyncGenerator<ChoiceDelta>[] {
  const maxTokens = resolveMaxTokens(req, promptIds.length, ctx.limits);
  const grammar = requestGrammar(req);
  checkLogitBias(req, ctx.model.tokenizer.vocabSize);
  // Join the caller's trace when it sent one; answer with ours so clients can correlate.
  const traceparent = gatewayTraceparent(request, requestId, req.model, promptIds.length);
  void reply.header('traceparent', traceparent);
  const streams = startChoices(ctx.backend, requestId, req, { promptTokenIds: promptIds, maxTokens, eosTokenIds: ctx.model.eosTokenIds, cacheSalt: prefixCacheSalt(request.apiKey, req.cacheSalt), traceparent, images, grammar });
  abortOnDisconnect(reply, streams);
  ctx.metrics.promptTokens.inc({ model: req.model }, promptIds.length);
  ctx.metrics.queueTime.observe({ model: req.model }, (performance.now() - arrivalMs) / 1000);
  return streams.map((s) => observeChoice(ctx.metrics, req.model, arrivalMs, choiceDeltas(s, opts), (n) => addCompletionTokens(request, n)));
}

/**
 * Admission, first thing after the body is validated (before images, template and tokenizer):
 * the request's `n` slots are held until its response is done or its client is gone, so a full
 * queue is refused in well under a millisecond of work (admission.ts).
 */
export async function admitRequest(ctx: GatewayContext, reply: FastifyReply, n: number): Promise<void> {
  const key = (reply.request as { apiKey?: ApiKey }).apiKey;
  // The key's own limits first: a key over its rate is refused without touching the shared queue.
  const own = key ? await ctx.keyLimits.acquire(key, n) : undefined;
  let release: () => void;
  try {
    release = await ctx.admission.acquire(n);
  } catch (e) {
    own?.refund();
    throw e;
  }
  // The client may have gone while the cluster-wide count answered: its 'close' has fired already.
  if (reply.raw.closed) {
    release();
    own?.release();
    return;
  }
  reply.raw.once('close', release);
  if (!own) return;
  reply.raw.once('close', own.release);
  if (own.state) {
    // OpenAI's names, so clients that pace themselves by them work unchanged.
    reply.header('x-ratelimit-limit-requests', String(own.state.limitRequests));
    reply.header('x-ratelimit-remaining-requests', String(own.state.remainingRequests));
    reply.header('x-ratelimit-reset-requests', `${own.state.resetSeconds}s`);
  }
}

/** Non-streaming: every choice whole, plus usage; a failed choice fails the request. */
export async function collectChoices(choices: AsyncGenerator<ChoiceDelta>[], promptTokens: number): Promise<{ done: CollectedChoice[]; usage: Usage }> {
  const done = await Promise.all(choices.map(collectChoice));
  const failed = done.find((c) => c.error);
  if (failed) throw choiceFailure(failed);
  const completionTokens = done.reduce((a, c) => a + c.completionTokens, 0);
  return { done, usage: buildUsage({ promptTokens, completionTokens, cachedTokens: done[0]!.cachedPromptTokens }) };
}

export interface StreamBuilders {
  /** Sent once per choice before its deltas (chat's role chunk); undefined for none. */
  first?(index: number): object | undefined;
  /** The chunk for one delta of one choice, or undefined when it carries nothing to send. */
  delta(index: number, d: ChoiceDelta, state: { textOffset: number }): object | undefined;
  usage(u: Usage): object;
}

/** Streaming: chunks of all choices as they come, a failed choice as an error event, usage, [DONE]. */
export async function streamChoices(reply: FastifyReply, choices: AsyncGenerator<ChoiceDelta>[], promptTokens: number, includeUsage: boolean, b: StreamBuilders): Promise<void> {
  const sse = new SseWriter(reply);
  let completionTokens = 0;
  let cachedTokens = 0;
  await Promise.all(
    choices.map(async (deltas, index) => {
      const first = b.first?.(index);
      if (first) sse.send(first);
      const state = { textOffset: 0 };
      let tokens = 0;
      for await (const d of deltas) {
        tokens = Math.max(tokens, d.completionTokens);
        cachedTokens = d.cachedPromptTokens || cachedTokens;
        if (d.finishReason === 'error') {
          sse.send(toOpenAIErrorBody(choiceFailure(d)));
          continue;
        }
        const chunk = b.delta(index, d, state);
        if (chunk) sse.send(chunk);
        state.textOffset += d.content.length;
      }
      completionTokens += tokens;
    }),
  );
  if (includeUsage) sse.send(b.usage(buildUsage({ promptTokens, completionTokens, cachedTokens })));
  sse.done();
}
