/**
 * Runs a dataset open-loop: request i is sent at its scheduled offset whether or not earlier
 * ones have finished, so queueing shows up as latency instead of as a lower offered rate.
 */
import type { DatasetItem } from './dataset.js';
import { requestMetrics, type RequestMetrics } from './metrics.js';
import { sendStreaming, type SendOptions } from './sse-client.js';

export interface RunOptions extends SendOptions {
  items: readonly DatasetItem[];
  /** seconds from the start, one per item */
  offsets: readonly number[];
  onProgress?: (done: number, total: number) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runOpenLoop(o: RunOptions): Promise<RequestMetrics[]> {
  if (o.offsets.length !== o.items.length) throw new Error('one arrival offset per request is needed');
  const start = performance.now();
  let done = 0;
  o.onProgress?.(0, o.items.length);
  const inflight: Array<Promise<RequestMetrics>> = [];
  for (let i = 0; i < o.items.length; i++) {
    const wait = start + o.offsets[i]! * 1000 - performance.now();
    if (wait > 0) await sleep(wait);
    inflight.push(
      sendStreaming(o.items[i]!, o).then((t) => {
        o.onProgress?.(++done, o.items.length);
        return requestMetrics(t, start);
      }),
    );
  }
  return Promise.all(inflight);
}
