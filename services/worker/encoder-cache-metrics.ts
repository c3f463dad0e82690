import type { EncoderCache } from './encoder-cache.js';
import type { WorkerMetrics } from './worker-metrics.js';

/**
 * Encoder-cache series on a worker's registry: hits are images whose vision stage was skipped
 * because their embeddings (by mm_hash) were already here; misses had to be encoded (here or by
 * a Prefill-Vision worker). Read from the cache's counters at scrape time.
 */
export function registerEncoderCacheMetrics(metrics: WorkerMetrics, cache: EncoderCache): void {
  metrics.counterOf('tandem_encoder_cache_hits_total', 'Images whose embeddings came from the encoder cache (vision stage skipped).', () => cache.hits);
  metrics.counterOf('tandem_encoder_cache_misses_total', 'Images that had to be encoded.', () => cache.misses);
  metrics.gaugeOf('tandem_encoder_cache_entries', 'Images held in the encoder cache.', () => cache.size);
}
