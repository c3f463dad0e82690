/**
 * The self-contained HTML report of a run (or of a --compare pair): the configuration, a
 * side-by-side figure table, and inline SVG charts — TTFT and TPOT CDFs, end-to-end latency per
 * request over the run, and output-token throughput over time.
 */
import type { RequestMetrics, RunSummary } from './metrics.js';
import { round3 } from './stats.js';
import { cdfPoints, chart, escapeXml, PALETTE } from './svg.js';
import { tokenThroughputSeries } from './timeline.js';

export interface ReportRun {
  label: string;
  summary: RunSummary;
  metrics: readonly RequestMetrics[];
  /** 1-minute load average of the machine at the start and end of the run: how noisy it was */
  loadAverage?: readonly [number, number];
}

function cell(x: number | null | undefined, unit = ''): string {
  return x === null || x === undefined || !Number.isFinite(x) ? '—' : `${round3(x)}${unit}`;
}

function figureRows(runs: readonly ReportRun[]): string {
  const rows: Array<[string, (s: RunSummary) => string]> = [
    ['requests (completed / failed)', (s) => `${s.completed} / ${s.failed}`],
    ['duration', (s) => cell(s.durationS, ' s')],
    ['request throughput', (s) => cell(s.requestThroughput, ' req/s')],
    ['output tokens/s', (s) => cell(s.outputTokensPerS)],
    ['goodput (meets TTFT and TPOT SLOs)', (s) => cell(s.goodput, ' req/s')],
    ['SLO attainment', (s) => cell(s.sloAttainment * 100, ' %')],
  ];
  const load = (r: ReportRun) => (r.loadAverage ? `${r.loadAverage[0].toFixed(2)} → ${r.loadAverage[1].toFixed(2)}` : '—');
  for (const [name, key] of [['TTFT', 'ttftMs'], ['TPOT', 'tpotMs'], ['ITL', 'itlMs'], ['end-to-end', 'e2eMs']] as const) {
    for (const p of ['mean', 'p50', 'p90', 'p99'] as const) rows.push([`${name} ${p}`, (s) => cell(s[key][p], ' ms')]);
  }
  const head = `<tr><th>figure</th>${runs.map((r) => `<th>${escapeXml(r.label)}</th>`).join('')}</tr>`;
  const body = rows.map(([n, f]) => `<tr><td>${escapeXml(n)}</td>${runs.map((r) => `<td>${f(r.summary)}</td>`).join('')}</tr>`);
  body.push(`<tr><td>machine load average (start → end)</td>${runs.map((r) => `<td>${load(r)}</td>`).join('')}</tr>`);
  return head + body.join('\n');
}

function errorList(runs: readonly ReportRun[]): string {
  const items = runs.flatMap((r) => Object.entries(r.summary.errors).map(([msg, n]) => `<li>${escapeXml(r.label)}: ${n} × ${escapeXml(msg)}</li>`));
  return items.length ? `<h2>Errors</h2><ul>${items.join('')}</ul>` : '';
}

export function renderHtmlReport(title: string, config: Record<string, unknown>, runs: readonly ReportRun[]): string {
  const color = (i: number) => PALETTE[i % PALETTE.length]!;
  const ok = (r: ReportRun) => r.metrics.filter((m) => m.ok);
  const values = (r: ReportRun, f: (m: RequestMetrics) => number | undefined) => ok(r).flatMap((m) => (f(m) === undefined ? [] : [f(m)!]));
  const charts = [
    chart({ title: 'TTFT (CDF)', xLabel: 'time to first token, ms', yLabel: 'fraction of requests', kind: 'step', series: runs.map((r, i) => ({ name: r.label, color: color(i), points: cdfPoints(values(r, (m) => m.ttftMs)) })) }),
    chart({ title: 'TPOT (CDF)', xLabel: 'time per output token, ms', yLabel: 'fraction of requests', kind: 'step', series: runs.map((r, i) => ({ name: r.label, color: color(i), points: cdfPoints(values(r, (m) => m.tpotMs)) })) }),
    chart({ title: 'End-to-end latency per request', xLabel: 'sent at, s', yLabel: 'latency, ms', kind: 'dots', series: runs.map((r, i) => ({ name: r.label, color: color(i), points: ok(r).map((m) => [m.startMs / 1000, m.e2eMs] as const) })) }),
    chart({ title: 'Output throughput over time', xLabel: 'time, s', yLabel: 'tokens/s', kind: 'line', series: runs.map((r, i) => ({ name: r.label, color: color(i), points: tokenThroughputSeries(r.metrics) })) }),
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeXml(title)}</title>
<style>
body { font-family: sans-serif; margin: 24px; color: #222; }
table { border-collapse: collapse; margin: 12px 0; }
td, th { border: 1px solid #ccc; padding: 4px 10px; text-align: right; }
td:first-child, th:first-child { text-align: left; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; }
pre { background: #f6f6f6; padding: 8px; }
</style></head><body>
<h1>${escapeXml(title)}</h1>
<h2>Configuration</h2>
<pre>${escapeXml(JSON.stringify(config, null, 2))}</pre>
<h2>Figures</h2>
<table>
${figureRows(runs)}
</table>
${errorList(runs)}
<h2>Charts</h2>
<div class="charts">
${charts.join('\n')}
</div>
</body></html>
`;
}
