import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ATTR_HTTP_REQUEST_METHOD, ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_HTTP_ROUTE, ATTR_URL_PATH } from '@opentelemetry/semantic-conventions';
import { ATTR, endSpan, outgoingTraceparent, SPAN, startSpanFrom, tracingEnabled, type Span } from '../common/telemetry/index.js';

/** The gateway span of each traced request (a WeakMap: nothing to clean up when the request goes). */
const spans = new WeakMap<FastifyRequest, { span: Span; outputTokens: number }>();

/**
 * One `gateway.request` span per API request (/v1/...), continuing the caller's traceparent when
 * it sent one: method, route, status, and — from the generation path — model and token counts.
 * Registered only when tracing is on; otherwise the gateway keeps its plain trace-id propagation.
 */
export function registerRequestTracing(app: FastifyInstance): void {
  if (!tracingEnabled()) return;
  app.addHook('onRequest', async (request, reply) => {
    if (!request.url.startsWith('/v1/')) return;
    const span = startSpanFrom(SPAN.gatewayRequest, request.headers.traceparent as string | undefined, {
      [ATTR_HTTP_REQUEST_METHOD]: request.method,
      [ATTR_URL_PATH]: request.url.split('?')[0]!,
      ...(request.routeOptions.url ? { [ATTR_HTTP_ROUTE]: request.routeOptions.url } : {}),
    });
    spans.set(request, { span, outputTokens: 0 });
    // 'close' fires for every ending: a normal reply, a hijacked SSE stream, a client hang-up.
    reply.raw.once('close', () => {
      const status = reply.raw.statusCode;
      span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
      if (!reply.raw.writableFinished) span.setAttribute('tandem.client_disconnected', true);
      endSpan(span, status >= 500 ? `HTTP ${status}` : undefined);
    });
  });
}

/**
 * What the generation path sends on: the traceparent for the router leg (the gateway span's ids
 * when tracing is on, a child id of the caller's trace otherwise), after recording the model and
 * prompt size on the span.
 */
export function gatewayTraceparent(request: FastifyRequest, requestId: string, model: string, promptTokens: number): string {
  const span = spans.get(request)?.span;
  span?.setAttributes({ [ATTR.requestId]: requestId, [ATTR.model]: model, [ATTR.inputTokens]: promptTokens });
  return outgoingTraceparent(request.headers.traceparent as string | undefined, span);
}

/** Adds one choice's generated tokens to the request's span (n > 1 choices add up). */
export function addCompletionTokens(request: FastifyRequest, tokens: number): void {
  const t = spans.get(request);
  if (!t) return;
  t.outputTokens += tokens;
  t.span.setAttribute(ATTR.outputTokens, t.outputTokens);
}
