/**
 * Output-token throughput over time, rebuilt from each request's send time, TTFT and
 * inter-chunk gaps (chunk k arrives at start + TTFT + ITL[0] + … + ITL[k-1]); a chunk's share of
 * tokens is the request's output tokens spread evenly over its chunks.
 */
import type { RequestMetrics } from './metrics.js';

export function tokenThroughputSeries(ms: readonly RequestMetrics[], bucketS = 1): Array<[number, number]> {
  const buckets: number[] = [];
  for (const m of ms) {
    if (!m.ok || m.ttftMs === undefined) continue;
    const perChunk = m.outputTokens / (m.itlMs.length + 1);
    let at = m.startMs + m.ttftMs;
    for (let k = 0; k <= m.itlMs.length; k++) {
      if (k > 0) at += m.itlMs[k - 1]!;
      const b = Math.floor(at / 1000 / bucketS);
      buckets[b] = (buckets[b] ?? 0) + perChunk;
    }
  }
  const out: Array<[number, number]> = [];
  for (let b = 0; b < buckets.length; b++) out.push([(b + 0.5) * bucketS, (buckets[b] ?? 0) / bucketS]);
  return out;
}
