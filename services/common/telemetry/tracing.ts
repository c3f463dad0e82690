import { context, propagation, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, ConsoleSpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { tracingConfigFromEnv, type TracingConfig } from './config.js';

export interface TracingHandle {
  readonly enabled: boolean;
  readonly config: TracingConfig;
  /** Exports what is still buffered and stops the provider (no-op when tracing is off). */
  shutdown(): Promise<void>;
}

let active: { provider: NodeTracerProvider; handle: TracingHandle } | undefined;

/** True once initTracing registered a real provider in this process. */
export function tracingEnabled(): boolean {
  return active !== undefined;
}

/**
 * Sets up tracing for one process, once, when the OTel environment asks for it (see
 * tracingConfigFromEnv). Otherwise nothing is registered: @opentelemetry/api keeps its no-op
 * tracer, spans cost a function call, and no exporter, timer or socket exists.
 *
 * Spans leave in batches (BatchSpanProcessor; OTEL_BSP_* tune it) over OTLP/HTTP JSON to
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces. Buffered spans
 * are flushed when the process is about to exit, or by `shutdown()`.
 */
export function initTracing(serviceName: string, opts: { env?: NodeJS.ProcessEnv; attributes?: Record<string, string | number> } = {}): TracingHandle {
  if (active) return active.handle;
  const config = tracingConfigFromEnv(serviceName, opts.env);
  for (const w of config.warnings) process.stderr.write(`[tandem] tracing: ${w}\n`);
  if (!config.enabled) return { enabled: false, config, shutdown: async () => undefined };

  const spanProcessors: SpanProcessor[] = config.exporters.map((e) => new BatchSpanProcessor(e === 'otlp' ? new OTLPTraceExporter() : new ConsoleSpanExporter()));
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: config.serviceName, [ATTR_SERVICE_VERSION]: '0.1.0', 'process.pid': process.pid, ...opts.attributes }),
    spanProcessors,
  });
  // Global provider, AsyncLocalStorage context manager and the W3C trace-context propagator.
  provider.register();
  let stopping: Promise<void> | undefined;
  const handle: TracingHandle = {
    enabled: true,
    config,
    shutdown: () => (stopping ??= provider.shutdown().catch(() => undefined)),
  };
  active = { provider, handle };
  // The CLI ends by letting the event loop drain; the batch timer is unref'd, so flush here or
  // the last spans of the process would be lost.
  process.once('beforeExit', () => void handle.shutdown());
  return handle;
}

/** Flushes and stops the process's provider, if any (tests and embedding code). */
export async function shutdownTracing(): Promise<void> {
  const a = active;
  if (!a) return;
  await a.handle.shutdown();
  trace.disable();
  context.disable();
  propagation.disable();
  active = undefined;
}
