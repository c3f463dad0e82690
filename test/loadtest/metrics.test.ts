/**
 * The statistics on a synthetic stream of known timings: every figure below is worked out by hand
 * from the fake timestamps, so an off-by-one in TPOT's denominator or a percentile rank shows up.
 */
import { describe, expect, it } from 'vitest';
import { meetsSlo, requestMetrics, summarize } from '../../loadtest/generator/metrics.js';
import type { RequestTiming } from '../../loadtest/generator/sse-client.js';
import { distribution } from '../../loadtest/generator/stats.js';

const RUN_START = 1000;

function timing(id: number, sent: number, chunks: number[], end: number, outputTokens: number, ok = true): RequestTiming {
  return { id, sentMs: sent, endMs: end, chunkMs: chunks, outputTokens, promptTokens: 10 * (id + 1), ok, ...(ok ? {} : { error: 'HTTP 400: Image inputs are not supported yet' }) };
}

describe('per-request metrics', () => {
  it('TTFT, ITL, TPOT and e2e from chunk times', () => {
    // sent at 1000; chunks at 1100, 1120, 1150, 1190; stream ends at 1200; 5 output tokens
    // (the last chunk carries two tokens).
    const m = requestMetrics(timing(0, 1000, [1100, 1120, 1150, 1190], 1200, 5), RUN_START);
    expect(m.ttftMs).toBe(100);
    expect(m.itlMs).toEqual([20, 30, 40]);
    expect(m.e2eMs).toBe(200);
    // (200 - 100) / (5 - 1)
    expect(m.tpotMs).toBe(25);
    expect(m.startMs).toBe(0);
  });

  it('a one-token request has no TPOT and is judged on TTFT alone', () => {
    const m = requestMetrics(timing(1, 1500, [1530], 1540, 1), RUN_START);
    expect(m.ttftMs).toBe(30);
    expect(m.tpotMs).toBeUndefined();
    expect(m.itlMs).toEqual([]);
    expect(meetsSlo(m, { ttftMs: 30, tpotMs: 1 })).toBe(true);
    expect(meetsSlo(m, { ttftMs: 29, tpotMs: 1 })).toBe(false);
  });

  it('a failed request without tokens has no TTFT and never meets an SLO', () => {
    const m = requestMetrics(timing(2, 1200, [], 1210, 0, false), RUN_START);
    expect(m.ok).toBe(false);
    expect(m.ttftMs).toBeUndefined();
    expect(meetsSlo(m, { ttftMs: 1e9, tpotMs: 1e9 })).toBe(false);
  });
});

describe('distribution', () => {
  it('nearest-rank percentiles and mean of 1..100', () => {
    const d = distribution(Array.from({ length: 100 }, (_, i) => 100 - i));
    expect(d).toEqual({ n: 100, mean: 50.5, p50: 50, p90: 90, p99: 99, max: 100 });
  });

  it('an empty sample is NaN, not a zero that looks measured', () => {
    expect(Number.isNaN(distribution([]).p50)).toBe(true);
    expect(distribution([]).n).toBe(0);
  });
});

describe('run summary and goodput', () => {
  // Four requests over [1000, 3000] ms:
  //   0: TTFT 100, TPOT 25            (meets ttft 150 / tpot 30)
  //   1: TTFT 300, TPOT 10            (TTFT too slow)
  //   2: TTFT 50,  TPOT 50            (TPOT too slow)
  //   3: failed (refused image request)
  const ms = [
    requestMetrics(timing(0, 1000, [1100, 1120, 1150, 1190], 1200, 5), RUN_START),
    requestMetrics(timing(1, 1500, [1800, 1810, 1820], 1830, 4), RUN_START),
    requestMetrics(timing(2, 2000, [2050, 2100, 2150], 2150, 3), RUN_START),
    requestMetrics(timing(3, 2900, [], 3000, 0, false), RUN_START),
  ];
  const s = summarize(ms, { ttftMs: 150, tpotMs: 30 });

  it('counts completions, failures and error messages', () => {
    expect(s.requests).toBe(4);
    expect(s.completed).toBe(3);
    expect(s.failed).toBe(1);
    expect(s.errors).toEqual({ 'HTTP 400: Image inputs are not supported yet': 1 });
  });

  it('duration runs from the first send to the last end of stream', () => {
    expect(s.durationS).toBe(2);
    expect(s.requestThroughput).toBe(1.5);
    expect(s.outputTokensPerS).toBe((5 + 4 + 3) / 2);
    expect(s.promptTokensPerS).toBe((10 + 20 + 30) / 2);
  });

  it('goodput counts only requests meeting both SLOs', () => {
    expect(s.goodput).toBe(0.5);
    expect(s.sloAttainment).toBe(0.25);
    const loose = summarize(ms, { ttftMs: 1000, tpotMs: 1000 });
    expect(loose.goodput).toBe(1.5);
  });

  it('latency distributions cover completed requests only', () => {
    expect(s.ttftMs).toMatchObject({ n: 3, p50: 100, p99: 300, mean: 150 });
    expect(s.tpotMs).toMatchObject({ n: 3, p50: 25, p99: 50 });
    // ITLs: 20, 30, 40 | 10, 10 | 50, 50
    expect(s.itlMs).toMatchObject({ n: 7, p50: 30, p99: 50, max: 50 });
    expect(s.itlMs.mean).toBeCloseTo(210 / 7, 12);
    expect(s.e2eMs).toMatchObject({ n: 3, p50: 200, p99: 330 });
  });
});
