import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { BackendStats } from '../protocol/generation-backend.js';

/** Anything that can report engine-side state at scrape time (in-process engine or the router). */
export interface BackendStatsSource {
  stats(): BackendStats;
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 30, 60];

/**
 * The gateway's Prometheus metrics (`tandem_` prefix, names after vLLM's so existing dashboards
 * map over). Latencies are observed here, at the edge, as the client sees them.
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  readonly ttft = new Histogram({ name: 'tandem_time_to_first_token_seconds', help: 'Time from request arrival to the first generated token.', labelNames: ['model'], buckets: LATENCY_BUCKETS, registers: [this.registry] });
  readonly itl = new Histogram({ name: 'tandem_inter_token_latency_seconds', help: 'Time between consecutive generated tokens of a request.', labelNames: ['model'], buckets: LATENCY_BUCKETS, registers: [this.registry] });
  readonly e2e = new Histogram({ name: 'tandem_e2e_request_latency_seconds', help: 'Time from request arrival to its last token.', labelNames: ['model'], buckets: LATENCY_BUCKETS, registers: [this.registry] });
  readonly queueTime = new Histogram({ name: 'tandem_request_queue_time_seconds', help: 'Time from request arrival at the gateway to its dispatch to the backend (admission, templating, tokenization, image decoding).', labelNames: ['model'], buckets: LATENCY_BUCKETS, registers: [this.registry] });
  readonly tpot = new Histogram({ name: 'tandem_request_time_per_output_token_seconds', help: 'Per request: time from the first to the last token over the tokens after the first (TPOT).', labelNames: ['model'], buckets: LATENCY_BUCKETS, registers: [this.registry] });
  readonly promptTokens = new Counter({ name: 'tandem_prompt_tokens_total', help: 'Prompt tokens processed.', labelNames: ['model'], registers: [this.registry] });
  readonly generationTokens = new Counter({ name: 'tandem_generation_tokens_total', help: 'Tokens generated.', labelNames: ['model'], registers: [this.registry] });
  readonly requests = new Counter({ name: 'tandem_requests_total', help: 'Finished requests by finish reason.', labelNames: ['model', 'finish_reason'], registers: [this.registry] });
  readonly errors = new Counter({ name: 'tandem_request_errors_total', help: 'Requests refused or failed, by error code.', labelNames: ['code'], registers: [this.registry] });

  constructor(source: BackendStatsSource) {
    const gauge = (name: string, help: string, read: (s: ReturnType<BackendStatsSource['stats']>) => number) =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.set(read(source.stats()));
        },
      });
    gauge('tandem_num_requests_running', 'Requests holding KV cache and being computed.', (s) => s.running);
    gauge('tandem_num_requests_waiting', 'Requests queued for admission.', (s) => s.waiting);
    gauge('tandem_kv_cache_usage_perc', 'Fraction of KV cache blocks in use (0..1).', (s) => s.kvUsage);
    gauge('tandem_kv_cache_free_blocks', 'KV cache blocks free or evictable.', (s) => s.freeBlocks);
    gauge('tandem_prefix_cache_hit_rate', 'Prompt tokens served from the prefix cache over prompt tokens queried (0..1).', (s) => s.prefixCacheHitRate);
    gauge('tandem_num_preemptions', 'Sequences preempted (recomputed) since start.', (s) => s.preemptions);
  }

  /** `tandem_gateway_key_limits_cluster_fallbacks_total`: per-key limits decided without Redis. */
  trackKeyLimits(clusterFallbacks: () => number): void {
    new Counter({
      name: 'tandem_gateway_key_limits_cluster_fallbacks_total',
      help: 'Requests whose API-key limits (rpm, concurrency) were checked against this gateway\'s own count only, because the cluster-wide count (Redis) did not answer in time.',
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(clusterFallbacks());
      },
    });
  }

  /** `tandem_gateway_requests_in_flight`: the admission count (exact, per gateway). */
  trackAdmission(inFlight: () => number, limit: number, clusterFallbacks: () => number): void {
    new Counter({
      name: 'tandem_gateway_admission_cluster_fallbacks_total',
      help: 'Requests admitted on this gateway\'s own bound because the cluster-wide count (Redis) did not answer in time.',
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(clusterFallbacks());
      },
    });
    new Gauge({ name: 'tandem_gateway_requests_in_flight', help: 'Generation requests (in choices) this gateway admitted that are running or waiting now; at tandem_gateway_requests_limit new ones get 429.', registers: [this.registry], collect() { this.set(inFlight()); } });
    new Gauge({ name: 'tandem_gateway_requests_limit', help: 'Admission bound of this gateway: --max-num-seqs + --max-waiting.', registers: [this.registry], collect() { this.set(limit); } });
  }
}
