import type { GenerationRequest, RequestStream } from './request.js';

/** What a backend reports at scrape and admission time (an in-process engine or the router). */
export interface BackendStats {
  running: number;
  waiting: number;
  kvUsage: number;
  prefixCacheHitRate: number;
  numBlocks: number;
  freeBlocks: number;
  preemptions: number;
}

/**
 * Whatever generates tokens for the gateway: the router over gRPC (a cluster, or the embedded
 * disaggregated default) or a unified worker in the same process. Token ids only.
 */
export interface GenerationBackend {
  generate(req: GenerationRequest): RequestStream;
  stats(): BackendStats;
}
