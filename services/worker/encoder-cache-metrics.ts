import { Counter, Gauge, type Registry } from 'prom-client';
import type { EncoderCache } from './encoder-cache.js';

/**
 * Encoder-cache series on a worker's registry: hits are images whose vision stage was skipped
 * because their embeddings (by mm_hash) were already here; misses had to be encoded (here or by
 * a Prefill-Vision worker). Read from the cache's counters at scrape time.
 */
export function registerEncoderCacheMetrics(registry: Registry, cache: EncoderCache, labels: { worker: string; role: string }): void {
  const labelNames = ['worker', 'role'];
  const mirror = (name: string, help: string, read: () => number) => {
    let last = 0;
    return new Counter({
      name, help, labelNames, registers: [registry],
      collect() {
        const now = read();
        this.inc(labels, Math.max(0, now - last));
        last = now;
      },
    });
  };
  mirror('tandem_encoder_cache_hits_total', 'Images whose embeddings came from the encoder cache (vision stage skipped).', () => cache.hits);
  mirror('tandem_encoder_cache_misses_total', 'Images that had to be encoded.', () => cache.misses);
  new Gauge({
    name: 'tandem_encoder_cache_entries', help: 'Images held in the encoder cache.', labelNames, registers: [registry],
    collect() {
      this.set(labels, cache.size);
    },
  });
}
