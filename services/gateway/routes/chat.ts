import type { FastifyInstance } from 'fastify';
import { streamFinish } from '../generation/collect.js';
import { admitRequest, collectChoices, launchChoices, streamChoices } from '../generation/run-choices.js';
import {
  buildChatCompletion,
  buildChatCompletionChunk,
  buildChatUsageChunk,
  newChatMeta,
  parseChatCompletionRequest,
} from '../openai/index.js';
import { GENERATION_ROUTE } from './generation-route.js';
import type { GatewayContext } from '../context.js';
import { renderChatPrompt } from '../generation/chat-prompt.js';

export function registerChatRoute(app: FastifyInstance, ctx: GatewayContext): void {
  app.post('/v1/chat/completions', GENERATION_ROUTE, async (request, reply) => {
    const arrival = performance.now();
    const req = parseChatCompletionRequest(request.body, ctx.limits);
    await admitRequest(ctx, reply, req.n);
    const { tokenizer } = ctx.model;
    // Images decoded and checked, the template rendered, a prompt certainly over the window
    // refused before it is tokenized, then tokenized (chat-prompt.ts).
    const { promptIds, images } = await renderChatPrompt(ctx, req);
    const meta = newChatMeta(req.model);
    const opts = {
      tokenizer,
      stop: req.stop,
      parseReasoning: true,
      thinkingEnabled: req.enableThinking,
      parseTools: (req.tools?.length ?? 0) > 0 && req.toolChoice !== 'none',
      logprobs: req.logprobs,
    };
    const choices = launchChoices(ctx, request, reply, req, promptIds, meta.id, opts, arrival, images);

    if (!req.stream) {
      const { done, usage } = await collectChoices(choices, promptIds.length);
      return buildChatCompletion(
        meta,
        done.map((c, index) => ({
          index,
          content: c.content === '' && c.toolCalls.length > 0 ? null : c.content,
          reasoningContent: c.reasoning === '' ? undefined : c.reasoning,
          toolCalls: c.toolCalls,
          finishReason: c.finishReason,
          logprobs: req.logprobs ? c.logprobs : undefined,
        })),
        usage,
      );
    }

    const usageNull = req.includeUsage ? null : undefined;
    await streamChoices(reply, choices, promptIds.length, req.includeUsage, {
      first: (index) => buildChatCompletionChunk(meta, [{ index, role: 'assistant', content: '' }], usageNull),
      delta: (index, d) => {
        const finish = streamFinish(d.finishReason);
        const hasText = d.content !== '' || d.reasoning !== '' || d.toolCalls.length > 0 || d.logprobs.length > 0;
        if (!hasText && finish === null) return undefined;
        return buildChatCompletionChunk(
          meta,
          [
            {
              index,
              content: d.content === '' ? undefined : d.content,
              reasoningContent: d.reasoning === '' ? undefined : d.reasoning,
              toolCalls: d.toolCalls.map((t) => ({ index: t.index, id: t.id, name: t.name, arguments: t.argumentsDelta })),
              finishReason: finish,
              logprobs: req.logprobs ? d.logprobs : undefined,
            },
          ],
          usageNull,
        );
      },
      usage: (u) => buildChatUsageChunk(meta, u),
    });
    return reply;
  });
}
