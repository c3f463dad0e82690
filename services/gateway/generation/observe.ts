import type { GatewayMetrics } from '../metrics.js';
import type { ChoiceDelta } from './choice-stream.js';

/**
 * Passes a choice's deltas through while recording what the client experiences: time to first
 * token, gaps between tokens, time per output token, end-to-end latency, tokens generated and how
 * the choice ended.
 */
export async function* observeChoice(
  metrics: GatewayMetrics,
  model: string,
  arrivalMs: number,
  deltas: AsyncIterable<ChoiceDelta>,
  onFinished?: (completionTokens: number) => void,
): AsyncGenerator<ChoiceDelta> {
  let seen = 0;
  let last = arrivalMs;
  let firstAt = 0;
  let finish = 'abort';
  try {
    for await (const d of deltas) {
      if (d.completionTokens > seen) {
        const now = performance.now();
        if (seen === 0) {
          metrics.ttft.observe({ model }, (now - arrivalMs) / 1000);
          firstAt = now;
        } else {
          // One step may deliver several tokens; spread the gap evenly over them.
          const n = d.completionTokens - seen;
          for (let i = 0; i < n; i++) metrics.itl.observe({ model }, (now - last) / 1000 / n);
        }
        metrics.generationTokens.inc({ model }, d.completionTokens - seen);
        seen = d.completionTokens;
        last = now;
      }
      if (d.finishReason) finish = d.finishReason;
      yield d;
    }
  } finally {
    metrics.e2e.observe({ model }, (performance.now() - arrivalMs) / 1000);
    // TPOT: the decode pace of this request, from its first token to its last.
    if (seen > 1) metrics.tpot.observe({ model }, (last - firstAt) / 1000 / (seen - 1));
    metrics.requests.inc({ model, finish_reason: finish });
    onFinished?.(seen);
  }
}
