import type { FastifyInstance } from 'fastify';
import { apiError } from '../../common/errors/index.js';
import { streamFinish } from '../generation/collect.js';
import { admitRequest, collectChoices, launchChoices, streamChoices } from '../generation/run-choices.js';
import { refuseCertainlyTooLong } from '../generation/prompt-bound.js';
import {
  buildTextCompletion,
  buildTextCompletionChunk,
  buildTextCompletionUsageChunk,
  newCompletionMeta,
  parseCompletionRequest,
} from '../openai/index.js';
import { GENERATION_ROUTE } from './generation-route.js';
import type { GatewayContext } from '../context.js';

/** Legacy text completions: a raw prompt (text or token ids), no chat template, no parsers. */
export function registerCompletionsRoute(app: FastifyInstance, ctx: GatewayContext): void {
  app.post('/v1/completions', GENERATION_ROUTE, async (request, reply) => {
    const arrival = performance.now();
    const req = parseCompletionRequest(request.body, ctx.limits);
    await admitRequest(ctx, reply, req.n);
    const { tokenizer } = ctx.model;
    if (typeof req.prompt === 'string') refuseCertainlyTooLong(req.prompt, tokenizer, ctx.limits.maxModelLen, 'prompt');
    const promptIds = typeof req.prompt === 'string' ? tokenizer.encode(req.prompt) : req.prompt;
    if (promptIds.length === 0) throw apiError('invalid_parameter', 'The prompt is empty.', 'prompt');
    const bad = promptIds.findIndex((t) => t >= ctx.model.vocabSize);
    if (bad >= 0) throw apiError('invalid_parameter', `Token id ${promptIds[bad]} at prompt[${bad}] is outside the vocabulary (0..${ctx.model.vocabSize - 1}).`, 'prompt');
    const meta = newCompletionMeta(req.model);
    const opts = { tokenizer, stop: req.stop, parseReasoning: false, thinkingEnabled: false, parseTools: false, logprobs: req.logprobs };
    const choices = launchChoices(ctx, request, reply, req, promptIds, meta.id, opts, arrival);

    if (!req.stream) {
      const { done, usage } = await collectChoices(choices, promptIds.length);
      return buildTextCompletion(
        meta,
        done.map((c, index) => ({
          index,
          text: c.content,
          finishReason: c.finishReason === 'tool_calls' ? 'stop' : c.finishReason,
          logprobs: req.logprobs ? c.logprobs : undefined,
        })),
        usage,
      );
    }

    const usageNull = req.includeUsage ? null : undefined;
    await streamChoices(reply, choices, promptIds.length, req.includeUsage, {
      delta: (index, d, state) => {
        const f = streamFinish(d.finishReason);
        const finish = f === 'tool_calls' ? 'stop' : f;
        if (d.content === '' && d.logprobs.length === 0 && finish === null) return undefined;
        return buildTextCompletionChunk(meta, [{ index, text: d.content, finishReason: finish, logprobs: req.logprobs ? d.logprobs : undefined, textOffset: state.textOffset }], usageNull);
      },
      usage: (u) => buildTextCompletionUsageChunk(meta, u),
    });
    return reply;
  });
}
