import {
  context,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  trace,
  type Attributes,
  type Context,
  type Span,
} from '@opentelemetry/api';
import { childTraceparent, formatTraceparent } from '../trace-context.js';
import { tracingEnabled } from './tracing.js';

export { SpanKind, type Attributes, type Span };

/** Tandem's tracer: the SDK's when initTracing registered one, the API's no-op otherwise. */
export const tracer = () => trace.getTracer('tandem');

/** The context an incoming W3C traceparent (HTTP header, gRPC metadata, NATS header) continues; ROOT when absent or malformed. */
export function contextFromTraceparent(traceparent: string | undefined | null): Context {
  return traceparent ? propagation.extract(ROOT_CONTEXT, { traceparent }) : ROOT_CONTEXT;
}

/** A span continuing the trace of an incoming leg (a SERVER span by default). */
export function startSpanFrom(name: string, traceparent: string | undefined | null, attributes?: Attributes, kind: SpanKind = SpanKind.SERVER): Span {
  return tracer().startSpan(name, { kind, attributes }, contextFromTraceparent(traceparent));
}

/** A child of the active span (or of `parent`). */
export function startChildSpan(name: string, attributes?: Attributes, kind: SpanKind = SpanKind.INTERNAL, parent: Context = context.active()): Span {
  return tracer().startSpan(name, { kind, attributes }, parent);
}

/** Runs `fn` with `span` active: spans and outgoing traceparents made inside hang off it (across awaits). */
export function runInSpan<T>(span: Span, fn: () => T): T {
  return context.with(trace.setSpan(context.active(), span), fn);
}

/**
 * The traceparent to send on an outgoing leg (gRPC metadata, NATS header, HTTP response).
 * Tracing on: the ids of `span` (default: the active span), so the next hop's spans are its
 * children. Tracing off: a fresh span id under the incoming trace (childTraceparent), which keeps
 * the legs of one request joined by trace id at no cost.
 */
export function outgoingTraceparent(incoming?: string | null, span: Span | undefined = trace.getActiveSpan()): string {
  if (tracingEnabled() && span) {
    const sc = span.spanContext();
    if (isSpanContextValid(sc)) return formatTraceparent({ traceId: sc.traceId, spanId: sc.spanId, flags: sc.traceFlags & TraceFlags.SAMPLED ? '01' : '00' });
  }
  return childTraceparent(incoming);
}

/** Marks a span failed (when `error` is given) and ends it. */
export function endSpan(span: Span, error?: unknown): void {
  if (error !== undefined && error !== null) {
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof Error) span.recordException(error);
    span.setStatus({ code: SpanStatusCode.ERROR, message });
  }
  span.end();
}

/** Sets attributes on the active span, if it records (cheap no-op otherwise). */
export function annotateActiveSpan(attributes: Attributes): void {
  const s = trace.getActiveSpan();
  if (s?.isRecording()) s.setAttributes(attributes);
}

/**
 * `fn` inside a new child span of the active one, ended when `fn` settles; a throw marks the span
 * failed and is rethrown. The general-purpose wrapper for a stage with no span of its own.
 */
export async function withSpan<T>(name: string, attributes: Attributes, fn: (span: Span) => Promise<T> | T, kind: SpanKind = SpanKind.INTERNAL): Promise<T> {
  const span = startChildSpan(name, attributes, kind);
  let result: T;
  try {
    result = await runInSpan(span, () => fn(span));
  } catch (e) {
    endSpan(span, e);
    throw e;
  }
  span.end();
  return result;
}

/**
 * A span for work that already happened (timed by the caller): child of the active span, from
 * `startMs` (performance.now() clock) to now.
 */
export function recordFinishedSpan(name: string, attributes: Attributes, startMs: number, kind: SpanKind = SpanKind.INTERNAL): void {
  if (!tracingEnabled()) return;
  const span = tracer().startSpan(name, { kind, attributes, startTime: performance.timeOrigin + startMs }, context.active());
  span.end();
}
