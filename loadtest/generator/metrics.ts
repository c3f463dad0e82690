/**
 * Client-side serving metrics from request timings:
 *   TTFT  first text chunk − send
 *   TPOT  (e2e − TTFT) / (output tokens − 1): mean time per token after the first
 *   ITL   every gap between consecutive text chunks
 *   e2e   end of stream − send
 * and goodput: completed requests per second whose TTFT and TPOT both meet the SLOs
 * (a one-token request has no TPOT and is judged on TTFT alone).
 */
import type { RequestTiming } from './sse-client.js';
import { distribution, type Distribution } from './stats.js';

export interface RequestMetrics {
  id: number;
  ok: boolean;
  error?: string;
  /** send time relative to the first request of the run */
  startMs: number;
  ttftMs?: number;
  tpotMs?: number;
  e2eMs: number;
  itlMs: number[];
  promptTokens?: number;
  outputTokens: number;
}

export interface Slo {
  ttftMs: number;
  tpotMs: number;
}

export function requestMetrics(t: RequestTiming, runStartMs: number): RequestMetrics {
  const e2eMs = t.endMs - t.sentMs;
  const m: RequestMetrics = { id: t.id, ok: t.ok, startMs: t.sentMs - runStartMs, e2eMs, itlMs: [], promptTokens: t.promptTokens, outputTokens: t.outputTokens };
  if (t.error !== undefined) m.error = t.error;
  if (t.chunkMs.length > 0) {
    m.ttftMs = t.chunkMs[0]! - t.sentMs;
    for (let i = 1; i < t.chunkMs.length; i++) m.itlMs.push(t.chunkMs[i]! - t.chunkMs[i - 1]!);
    if (t.outputTokens > 1) m.tpotMs = (e2eMs - m.ttftMs) / (t.outputTokens - 1);
  }
  return m;
}

export function meetsSlo(m: RequestMetrics, slo: Slo): boolean {
  return m.ok && m.ttftMs !== undefined && m.ttftMs <= slo.ttftMs && (m.tpotMs === undefined || m.tpotMs <= slo.tpotMs);
}

export interface RunSummary {
  requests: number;
  completed: number;
  failed: number;
  /** error message → count */
  errors: Record<string, number>;
  /** first send to last end of stream */
  durationS: number;
  requestThroughput: number;
  outputTokensPerS: number;
  promptTokensPerS: number;
  goodput: number;
  /** share of all requests that met the SLOs */
  sloAttainment: number;
  ttftMs: Distribution;
  tpotMs: Distribution;
  itlMs: Distribution;
  e2eMs: Distribution;
  promptTokens: Distribution;
  outputTokens: Distribution;
}

export function summarize(ms: readonly RequestMetrics[], slo: Slo): RunSummary {
  const ok = ms.filter((m) => m.ok);
  const errors: Record<string, number> = {};
  for (const m of ms) if (!m.ok) errors[m.error ?? 'unknown'] = (errors[m.error ?? 'unknown'] ?? 0) + 1;
  const start = Math.min(...ms.map((m) => m.startMs));
  const end = Math.max(...ms.map((m) => m.startMs + m.e2eMs));
  const durationS = ms.length ? (end - start) / 1000 : 0;
  const per = (x: number) => (durationS > 0 ? x / durationS : 0);
  const good = ms.filter((m) => meetsSlo(m, slo)).length;
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  return {
    requests: ms.length,
    completed: ok.length,
    failed: ms.length - ok.length,
    errors,
    durationS,
    requestThroughput: per(ok.length),
    outputTokensPerS: per(sum(ok.map((m) => m.outputTokens))),
    promptTokensPerS: per(sum(ok.map((m) => m.promptTokens ?? 0))),
    goodput: per(good),
    sloAttainment: ms.length ? good / ms.length : 0,
    ttftMs: distribution(ok.flatMap((m) => (m.ttftMs === undefined ? [] : [m.ttftMs]))),
    tpotMs: distribution(ok.flatMap((m) => (m.tpotMs === undefined ? [] : [m.tpotMs]))),
    itlMs: distribution(ok.flatMap((m) => m.itlMs)),
    e2eMs: distribution(ok.map((m) => m.e2eMs)),
    promptTokens: distribution(ok.flatMap((m) => (m.promptTokens === undefined ? [] : [m.promptTokens]))),
    outputTokens: distribution(ok.map((m) => m.outputTokens)),
  };
}
