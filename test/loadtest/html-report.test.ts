/** The HTML report is one self-contained page: the figures as numbers, the charts as inline SVG. */
import { describe, expect, it } from 'vitest';
import { renderHtmlReport } from '../../loadtest/generator/html-report.js';
import { requestMetrics, summarize } from '../../loadtest/generator/metrics.js';
import type { RequestTiming } from '../../loadtest/generator/sse-client.js';
import { chart, niceTicks } from '../../loadtest/generator/svg.js';
import { tokenThroughputSeries } from '../../loadtest/generator/timeline.js';

const slo = { ttftMs: 200, tpotMs: 50 };

function run(label: string, ttft: number) {
  const timings: RequestTiming[] = [0, 1, 2, 3].map((i) => {
    const sent = i * 500;
    return { id: i, sentMs: sent, endMs: sent + ttft + 60, chunkMs: [sent + ttft, sent + ttft + 20, sent + ttft + 40, sent + ttft + 60], outputTokens: 4, promptTokens: 12, ok: true };
  });
  timings.push({ id: 4, sentMs: 2000, endMs: 2001, chunkMs: [], outputTokens: 0, ok: false, error: 'HTTP 400: Image inputs are <not> supported yet' });
  const metrics = timings.map((t) => requestMetrics(t, 0));
  return { label, metrics, summary: summarize(metrics, slo), loadAverage: [1.5, 2.25] as const };
}

describe('HTML report', () => {
  const html = renderHtmlReport('unified vs disagg', { seed: 3, rate: 2 }, [run('unified', 137.5), run('disagg', 412.25)]);

  it('is one page with four inline SVG charts and no external resources', () => {
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html.match(/<svg /g)).toHaveLength(4);
    expect(html).not.toMatch(/<script|<link|src=|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    for (const title of ['TTFT (CDF)', 'TPOT (CDF)', 'End-to-end latency per request', 'Output throughput over time']) expect(html).toContain(title);
  });

  it('shows the figures of each run side by side', () => {
    expect(html).toContain('<th>unified</th><th>disagg</th>');
    expect(html).toContain('<td>TTFT p50</td><td>137.5 ms</td><td>412.25 ms</td>');
    // TPOT = 60 ms / 3 tokens in both runs.
    expect(html).toContain('<td>TPOT p99</td><td>20 ms</td><td>20 ms</td>');
    // goodput: 4 good requests over 2.001 s for unified; none for disagg (TTFT over 200 ms).
    expect(html).toContain(`<td>goodput (meets TTFT and TPOT SLOs)</td><td>${Math.round((4 / 2.001) * 1000) / 1000} req/s</td><td>0 req/s</td>`);
    expect(html).toContain('<td>requests (completed / failed)</td><td>4 / 1</td><td>4 / 1</td>');
    expect(html).toContain('&quot;seed&quot;: 3');
    expect(html).toContain('<td>machine load average (start → end)</td><td>1.50 → 2.25</td>');
  });

  it('lists errors with markup escaped', () => {
    expect(html).toContain('unified: 1 × HTTP 400: Image inputs are &lt;not&gt; supported yet');
  });
});

describe('charts', () => {
  it('axes enclose the data with round ticks', () => {
    expect(niceTicks(9, 105)).toEqual([0, 20, 40, 60, 80, 100, 120]);
    expect(niceTicks(0.31, 0.74)).toEqual([0.3, 0.4, 0.5, 0.6, 0.7, 0.8]);
    expect(niceTicks(5, 5)[0]).toBeLessThanOrEqual(5);
  });

  it('draws every point inside the plot area', () => {
    const svg = chart({ title: 't', xLabel: 'x', yLabel: 'y', kind: 'dots', series: [{ name: 'a', color: '#000', points: [[9, 1], [105, 7]] }] });
    const dots = [...svg.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)"/g)].map((m) => [Number(m[1]), Number(m[2])]);
    expect(dots).toHaveLength(2);
    // plot area: x 64..624, y 32..272 for the default 640×320 with its margins
    for (const [x, y] of dots) {
      expect(x).toBeGreaterThanOrEqual(64);
      expect(x).toBeLessThanOrEqual(624);
      expect(y).toBeGreaterThanOrEqual(32);
      expect(y).toBeLessThanOrEqual(272);
    }
  });

  it('throughput over time spreads each request\'s tokens over its chunk arrival times', () => {
    const t: RequestTiming = { id: 0, sentMs: 0, endMs: 2500, chunkMs: [500, 1500, 1600, 2500], outputTokens: 8, ok: true };
    // chunks at 0.5 s, 1.5 s, 1.6 s, 2.5 s, two tokens each → buckets [0,1): 2, [1,2): 4, [2,3): 2
    expect(tokenThroughputSeries([requestMetrics(t, 0)])).toEqual([[0.5, 2], [1.5, 4], [2.5, 2]]);
  });
});
