import { Counter, Histogram, Registry } from 'prom-client';

const TRANSFER_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * Bytes and seconds of KV transfers, labelled by backend (ucx, tcp, local) only: dashboards sum
 * them across prefill workers, and tests read `{backend="…"}` series.
 */
export class TransferMetrics {
  private readonly bytes: Counter<'backend'>;
  private readonly seconds: Counter<'backend'>;
  private readonly count: Counter<'backend'>;
  private readonly duration: Histogram<'backend'>;

  /** `registry`: the worker's (WorkerMetrics), or a private one for code that only moves KV. */
  constructor(readonly registry: Registry = new Registry()) {
    const registers = [registry];
    this.bytes = new Counter({ name: 'tandem_kv_transfer_bytes_total', help: 'KV bytes pushed to decode workers, by transfer backend.', labelNames: ['backend'], registers });
    this.seconds = new Counter({ name: 'tandem_kv_transfer_seconds_total', help: 'Time spent pushing KV, by transfer backend.', labelNames: ['backend'], registers });
    this.count = new Counter({ name: 'tandem_kv_transfers_total', help: 'KV pushes, by transfer backend.', labelNames: ['backend'], registers });
    this.duration = new Histogram({ name: 'tandem_kv_transfer_duration_seconds', help: 'Duration of one KV push (first put issued to last put landed), by transfer backend.', labelNames: ['backend'], buckets: TRANSFER_BUCKETS, registers });
  }

  record(backend: string, bytes: number, seconds: number): void {
    this.bytes.inc({ backend }, bytes);
    this.seconds.inc({ backend }, seconds);
    this.count.inc({ backend });
    this.duration.observe({ backend }, seconds);
  }
}
