import type { FastifyInstance } from 'fastify';
import { renderChatPrompt } from '../generation/chat-prompt.js';
import { choiceFailure, streamFinish } from '../generation/collect.js';
import { admitRequest, collectChoices, launchChoices } from '../generation/run-choices.js';
import { SseWriter } from '../generation/sse.js';
import {
  inResponsesTerms,
  newResponseMeta,
  parseResponsesRequest,
  ResponseEventBuilder,
  responsesUsage,
  type ResponseObject,
  type ResponsesStreamEvent,
} from '../openai/responses-api/index.js';
import { GENERATION_ROUTE } from './generation-route.js';
import type { GatewayContext } from '../context.js';

/**
 * The OpenAI Responses API over the chat pipeline: the input becomes chat messages, which go
 * through the same template, admission, engine requests, parsers (reasoning, tool calls),
 * metrics and tracing as /v1/chat/completions; only the output is shaped differently. Nothing is
 * stored: every response is `store: false`, and `previous_response_id` is refused.
 */
export function registerResponsesRoute(app: FastifyInstance, ctx: GatewayContext): void {
  app.post('/v1/responses', GENERATION_ROUTE, async (request, reply) => {
    const arrival = performance.now();
    const { chat: req, echo, messageSources } = parseResponsesRequest(request.body, ctx.limits);
    await admitRequest(ctx, reply, 1);
    const meta = newResponseMeta(req.model);
    let launched;
    try {
      const { promptIds, images } = await renderChatPrompt(ctx, req);
      const opts = {
        tokenizer: ctx.model.tokenizer,
        stop: req.stop,
        parseReasoning: true,
        thinkingEnabled: req.enableThinking,
        parseTools: (req.tools?.length ?? 0) > 0 && req.toolChoice !== 'none',
        logprobs: false,
      };
      launched = { promptIds, choices: launchChoices(ctx, request, reply, req, promptIds, meta.id, opts, arrival, images) };
    } catch (e) {
      // Errors of the chat steps name `messages[i]` and `response_format`; this client sent `input` and `text.format`.
      throw inResponsesTerms(e, messageSources);
    }
    const { promptIds, choices } = launched;
    const builder = new ResponseEventBuilder(meta, echo);

    if (!req.stream) {
      const { done, usage } = await collectChoices(choices, promptIds.length);
      const c = done[0]!;
      builder.push({ reasoning: c.reasoning });
      builder.push({ content: c.content });
      builder.push({ toolCalls: c.toolCalls.map((t, index) => ({ index, id: t.id, name: t.name, argumentsDelta: t.arguments })) });
      const cached = usage.prompt_tokens_details?.cached_tokens ?? 0;
      const events = builder.finish(c.finishReason, responsesUsage({ promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens, cachedTokens: cached }));
      return (events.at(-1) as { response: ResponseObject }).response;
    }

    const sse = new SseWriter(reply);
    const send = (events: ResponsesStreamEvent[]) => {
      for (const e of events) sse.sendEvent(e.type, e);
    };
    send(builder.start());
    let completionTokens = 0;
    let cachedTokens = 0;
    let finish: ReturnType<typeof streamFinish> = null;
    for await (const d of choices[0]!) {
      completionTokens = Math.max(completionTokens, d.completionTokens);
      cachedTokens = d.cachedPromptTokens || cachedTokens;
      if (d.finishReason === 'error') {
        send(builder.fail(choiceFailure(d).message));
        sse.end();
        return reply;
      }
      send(builder.push(d));
      finish = streamFinish(d.finishReason) ?? finish;
    }
    // A client that hung up aborted the generation (launchChoices); the writer drops what follows.
    send(builder.finish(finish ?? 'stop', responsesUsage({ promptTokens: promptIds.length, completionTokens, cachedTokens })));
    sse.end();
    return reply;
  });
}
