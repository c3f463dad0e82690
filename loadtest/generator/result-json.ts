/** The machine-readable shape of a run: snake_case, rounded, nulls instead of NaN. */
import type { RequestMetrics, RunSummary, Slo } from './metrics.js';
import { round3, roundDistribution } from './stats.js';

export function summaryJson(s: RunSummary, slo: Slo): Record<string, unknown> {
  return {
    requests: s.requests,
    completed: s.completed,
    failed: s.failed,
    errors: s.errors,
    duration_s: round3(s.durationS),
    request_throughput: round3(s.requestThroughput),
    output_tokens_per_s: round3(s.outputTokensPerS),
    prompt_tokens_per_s: round3(s.promptTokensPerS),
    goodput: round3(s.goodput),
    slo_attainment: round3(s.sloAttainment),
    slo: { ttft_ms: slo.ttftMs, tpot_ms: slo.tpotMs },
    ttft_ms: roundDistribution(s.ttftMs),
    tpot_ms: roundDistribution(s.tpotMs),
    itl_ms: roundDistribution(s.itlMs),
    e2e_ms: roundDistribution(s.e2eMs),
    prompt_tokens: roundDistribution(s.promptTokens),
    output_tokens: roundDistribution(s.outputTokens),
  };
}

/** Per-request records for the --out file (ITL lists are left out: they are summarised above). */
export function requestsJson(ms: readonly RequestMetrics[]): Array<Record<string, unknown>> {
  return ms.map((m) => ({
    id: m.id,
    ok: m.ok,
    ...(m.error !== undefined ? { error: m.error } : {}),
    start_ms: round3(m.startMs),
    ttft_ms: m.ttftMs === undefined ? null : round3(m.ttftMs),
    tpot_ms: m.tpotMs === undefined ? null : round3(m.tpotMs),
    e2e_ms: round3(m.e2eMs),
    chunks: m.ttftMs === undefined ? 0 : m.itlMs.length + 1,
    prompt_tokens: m.promptTokens ?? null,
    output_tokens: m.outputTokens,
  }));
}

/** Which run is better on each headline figure (lower latency, higher goodput). */
export function comparison(runs: ReadonlyArray<{ label: string; summary: RunSummary }>): Record<string, string> {
  const best = (f: (s: RunSummary) => number, lower: boolean) => {
    const ranked = runs.filter((r) => Number.isFinite(f(r.summary))).sort((a, b) => (lower ? f(a.summary) - f(b.summary) : f(b.summary) - f(a.summary)));
    if (ranked.length > 1 && f(ranked[0]!.summary) === f(ranked[1]!.summary)) return 'tie';
    return ranked[0]?.label ?? 'none';
  };
  return {
    ttft_p50: best((s) => s.ttftMs.p50, true),
    ttft_p99: best((s) => s.ttftMs.p99, true),
    tpot_p50: best((s) => s.tpotMs.p50, true),
    tpot_p99: best((s) => s.tpotMs.p99, true),
    goodput: best((s) => s.goodput, false),
  };
}
