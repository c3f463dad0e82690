/**
 * What the code really exports and reads, scanned from the sources so the deploy files are
 * checked against today's code rather than a hand-kept list: Prometheus metric names (with their
 * type where it can be told) and environment variable names.
 */
import { readText, sourceFiles } from './repo-files.js';

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

const typeOf = (word: string): MetricType => {
  const w = word.toLowerCase();
  for (const t of ['histogram', 'summary', 'counter', 'gauge'] as const) if (w.includes(t)) return t;
  return 'untyped';
};

/**
 * `tandem_*` metrics defined in services/: prom-client constructors (`new Histogram({ name: … })`),
 * helper calls whose name says the type (`gauge('tandem_…', …)`), hand-written exposition text
 * (`# TYPE tandem_… gauge`), and other helpers called with a metric name and its help text
 * (`mirror('tandem_…_total', 'Images …')`: a counter by the `_total` convention, else untyped).
 */
export function exportedMetrics(): Map<string, MetricType> {
  const found = new Map<string, MetricType>();
  for (const f of sourceFiles(['services'])) {
    const src = readText(f);
    for (const m of src.matchAll(/new\s+(\w+)\s*\(\s*\{[^}]*?\bname:\s*['"`](tandem_[a-z0-9_]+)['"`]/g)) found.set(m[2]!, typeOf(m[1]!));
    for (const m of src.matchAll(/\b(\w*(?:gauge|counter|histogram|summary)\w*)\s*\(\s*['"`](tandem_[a-z0-9_]+)['"`]/gi)) found.set(m[2]!, typeOf(m[1]!));
    for (const m of src.matchAll(/# TYPE (tandem_[a-z0-9_]+) (\w+)/g)) found.set(m[1]!, typeOf(m[2]!));
    for (const m of src.matchAll(/\b\w+\s*\(\s*['"`](tandem_[a-z0-9_]+)['"`]\s*,\s*['"`]/g)) {
      if (!found.has(m[1]!)) found.set(m[1]!, m[1]!.endsWith('_total') ? 'counter' : 'untyped');
    }
  }
  return found;
}

const SUFFIXES: Record<string, MetricType[]> = { _bucket: ['histogram'], _sum: ['histogram', 'summary'], _count: ['histogram', 'summary'] };

/** Whether a series name used in a query is one the code exports (histogram/summary suffixes allowed). */
export function isExported(name: string, exported: Map<string, MetricType>): boolean {
  if (exported.has(name)) return true;
  for (const [suffix, types] of Object.entries(SUFFIXES)) {
    if (!name.endsWith(suffix)) continue;
    const t = exported.get(name.slice(0, -suffix.length));
    if (t && (types.includes(t) || t === 'untyped')) return true;
  }
  return false;
}

/** The `tandem_*` series names a PromQL expression uses (recording-rule names `tandem:…` are not series). */
export const metricNamesIn = (expr: string): string[] => [...new Set(expr.match(/\btandem_[a-zA-Z0-9_]+/g) ?? [])];

/**
 * Environment variables the code reads: `process.env.X` / `process.env['X']` in services/ and
 * kernels/ts, `getenv("X")` in the C++ kernels, and `'TANDEM_X'` passed as a string on its own
 * (e.g. `pick('port', 'TANDEM_PORT', …)` in `tandem up`). Names that appear only inside help or
 * error text do not count.
 */
export function envVarsRead(): Set<string> {
  const names = new Set<string>();
  for (const f of [...sourceFiles(['services', 'kernels/ts']), ...sourceFiles(['kernels/src'], ['.cc', '.h'])]) {
    const src = readText(f);
    for (const m of src.matchAll(/process\.env\.([A-Z][A-Z0-9_]*)|process\.env\[\s*['"]([A-Z][A-Z0-9_]*)['"]\s*\]|getenv\(\s*"([A-Z][A-Z0-9_]*)"\s*\)|['"](TANDEM_[A-Z0-9_]+)['"]/g)) {
      names.add((m[1] ?? m[2] ?? m[3] ?? m[4])!);
    }
  }
  return names;
}

/**
 * Variables read by libraries rather than by name in our code: the two OpenTelemetry variables
 * the tracing setup honours (the OTel SDK reads them from the environment).
 */
export const LIBRARY_ENV = new Set(['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_SERVICE_NAME']);
