/**
 * Whether this process exports traces, decided from the standard OpenTelemetry environment
 * variables only, so compose / Kubernetes / a developer's shell switch tracing on the same way
 * they do for any OTel SDK. Pure: tests pass their own environment.
 */
export type TraceExporterName = 'otlp' | 'console';

export interface TracingConfig {
  enabled: boolean;
  serviceName: string;
  exporters: TraceExporterName[];
  /** Settings we cannot honour (e.g. an exporter this build does not ship), to log once at start. */
  warnings: string[];
}

const nonEmpty = (v: string | undefined): v is string => v !== undefined && v.trim() !== '';

export function tracingConfigFromEnv(serviceName: string, env: NodeJS.ProcessEnv = process.env): TracingConfig {
  const name = nonEmpty(env.OTEL_SERVICE_NAME) ? env.OTEL_SERVICE_NAME.trim() : serviceName;
  const off = (warnings: string[] = []): TracingConfig => ({ enabled: false, serviceName: name, exporters: [], warnings });
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return off();

  const warnings: string[] = [];
  let exporters: TraceExporterName[];
  if (nonEmpty(env.OTEL_TRACES_EXPORTER)) {
    const asked = env.OTEL_TRACES_EXPORTER.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
    if (asked.includes('none')) return off();
    exporters = asked.filter((e): e is TraceExporterName => e === 'otlp' || e === 'console');
    for (const e of asked) if (e !== 'otlp' && e !== 'console') warnings.push(`OTEL_TRACES_EXPORTER=${e} is not supported (otlp, console); ignored`);
  } else {
    // No exporter named: an OTLP endpoint alone is the usual way to say "send traces there".
    exporters = nonEmpty(env.OTEL_EXPORTER_OTLP_ENDPOINT) || nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) ? ['otlp'] : [];
  }
  if (exporters.length === 0) return off(warnings);

  // Only the OTLP/HTTP JSON exporter ships with Tandem; collectors accept it on the same port.
  const protocol = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? '').trim();
  if (exporters.includes('otlp') && protocol !== '' && protocol !== 'http/json') {
    warnings.push(`OTLP protocol ${protocol} is not available; traces are sent as http/json`);
  }
  return { enabled: true, serviceName: name, exporters, warnings };
}
