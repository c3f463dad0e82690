/** Tracing (OpenTelemetry) and the metrics endpoint shared by every Tandem service. */
export { tracingConfigFromEnv, type TracingConfig } from './config.js';
export { initTracing, shutdownTracing, tracingEnabled, type TracingHandle } from './tracing.js';
export { ATTR, SPAN } from './span-names.js';
export {
  annotateActiveSpan,
  contextFromTraceparent,
  endSpan,
  outgoingTraceparent,
  recordFinishedSpan,
  runInSpan,
  SpanKind,
  startChildSpan,
  startSpanFrom,
  tracer,
  withSpan,
  type Attributes,
  type Span,
} from './spans.js';
export { traceEmbeddingTransfer, traceVisionEncode } from './stage-spans.js';
export { startMetricsServer, type MetricsServer } from './metrics-server.js';
