/** A plain-text figure table, one column per run, for humans reading the terminal. */
import type { RunSummary } from './metrics.js';

const f = (x: number, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : '—');

export function figureTable(runs: ReadonlyArray<{ label: string; summary: RunSummary }>): string {
  const rows: Array<[string, (s: RunSummary) => string]> = [
    ['completed / failed', (s) => `${s.completed} / ${s.failed}`],
    ['duration s', (s) => f(s.durationS)],
    ['requests/s', (s) => f(s.requestThroughput, 3)],
    ['output tokens/s', (s) => f(s.outputTokensPerS)],
    ['goodput req/s', (s) => f(s.goodput, 3)],
    ['SLO attainment %', (s) => f(s.sloAttainment * 100)],
    ['TTFT p50 / p99 ms', (s) => `${f(s.ttftMs.p50)} / ${f(s.ttftMs.p99)}`],
    ['TPOT p50 / p99 ms', (s) => `${f(s.tpotMs.p50)} / ${f(s.tpotMs.p99)}`],
    ['ITL p50 / p99 ms', (s) => `${f(s.itlMs.p50)} / ${f(s.itlMs.p99)}`],
    ['e2e p50 / p99 ms', (s) => `${f(s.e2eMs.p50)} / ${f(s.e2eMs.p99)}`],
  ];
  const cells = [['figure', ...runs.map((r) => r.label)], ...rows.map(([name, fn]) => [name, ...runs.map((r) => fn(r.summary))])];
  const widths = cells[0]!.map((_, c) => Math.max(...cells.map((row) => row[c]!.length)));
  return cells.map((row) => row.map((v, c) => (c === 0 ? v.padEnd(widths[c]!) : v.padStart(widths[c]!))).join('  ')).join('\n');
}
