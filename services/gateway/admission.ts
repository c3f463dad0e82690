import { apiError } from '../common/errors/index.js';

/**
 * Admission at the edge with an exact count: every generation request holds `n` slots (one per
 * choice) from the moment it is admitted until its response is finished or its client is gone.
 * At `limit` (the operator's running + waiting bound, `--max-num-seqs` + `--max-waiting`) new work
 * is refused with 429 and a Retry-After estimated from the queue — never from a stats snapshot
 * that may be a second old. A cluster with several gateways bounds each one.
 */
export class Admission {
  private held = 0;
  /** Smoothed time a request holds its slots (ms); seeds the Retry-After estimate. */
  private meanHoldMs = 1000;

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`the admission limit must be a positive integer, got ${limit}`);
  }

  /** Slots in use now (requests running or waiting, counted in choices). */
  get inFlight(): number {
    return this.held;
  }

  /**
   * Throws 429 `rate_limited` when not even one more slot is free: checked as soon as a
   * generation request arrives, before its body is parsed and validated, so that a burst into a
   * full queue is refused at the cost of routing alone. `acquire` still decides exactly.
   */
  refuseWhenFull(): void {
    if (this.held + 1 > this.limit) throw this.full(1);
  }

  /** Takes `n` slots or throws 429 `rate_limited`; the returned release is idempotent. */
  acquire(n: number): () => void {
    if (this.held + n > this.limit) throw this.full(n);
    this.held += n;
    const t0 = performance.now();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held -= n;
      this.meanHoldMs = 0.9 * this.meanHoldMs + 0.1 * (performance.now() - t0);
    };
  }

  private full(n: number): Error {
    const retryAfterSeconds = this.retryAfterSeconds(n);
    return apiError('rate_limited', `The server's queue is full (${this.held} of ${this.limit} requests running or waiting); retry after ${retryAfterSeconds} s.`, undefined, { retryAfterSeconds });
  }

  /** Whole seconds until `n` slots are likely free: queue depth over the limit, in mean hold times. */
  private retryAfterSeconds(n: number): number {
    const excess = this.held + n - this.limit;
    return Math.max(1, Math.ceil((this.meanHoldMs / 1000) * Math.ceil(excess / this.limit)));
  }
}
