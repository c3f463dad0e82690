import { apiError } from '../common/errors/index.js';
import type { ClusterSlots } from '../protocol/cluster-slots.js';

/** How long admission waits for the cluster-wide count before admitting on this gateway's bound alone. */
export const CLUSTER_ADMISSION_TIMEOUT_MS = 250;

/**
 * Admission at the edge with an exact count: every generation request holds `n` slots (one per
 * choice) from the moment it is admitted until its response is finished or its client is gone.
 * At `limit` (the operator's running + waiting bound, `--max-num-seqs` + `--max-waiting`) new work
 * is refused with 429 and a Retry-After estimated from the queue — never from a stats snapshot
 * that may be a second old. With `cluster` (the gateway was given Redis), the same bound is also
 * held cluster-wide: every gateway of the cluster takes its slots from one shared count
 * (services/state/admission), so two replicas together admit no more than the limit. If that
 * count does not answer within CLUSTER_ADMISSION_TIMEOUT_MS (Redis restarting), the request is
 * admitted on this gateway's own bound and counted in `clusterFallbacks`: serving goes on.
 */
export class Admission {
  private held = 0;
  /** Smoothed time a request holds its slots (ms); seeds the Retry-After estimate. */
  private meanHoldMs = 1000;
  /** Requests admitted on this gateway's bound alone because the cluster count did not answer. */
  clusterFallbacks = 0;

  constructor(
    readonly limit: number,
    private readonly cluster?: ClusterSlots,
  ) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`the admission limit must be a positive integer, got ${limit}`);
  }

  /** Whether the bound is shared cluster-wide. */
  get clusterWide(): boolean {
    return this.cluster !== undefined;
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
    if (this.held + 1 > this.limit) throw this.full(1, this.held);
  }

  /** Takes `n` slots (here, and cluster-wide when shared) or throws 429 `rate_limited`; the returned release is idempotent. */
  async acquire(n: number): Promise<() => void> {
    if (this.held + n > this.limit) throw this.full(n, this.held);
    // Held here first, synchronously: concurrent requests on this gateway never overshoot it.
    this.held += n;
    let releaseShared: (() => void) | undefined;
    if (this.cluster) {
      const shared = this.cluster.tryAcquire(n);
      const answer = await Promise.race([shared.catch(() => undefined), new Promise<undefined>((r) => setTimeout(() => r(undefined), CLUSTER_ADMISSION_TIMEOUT_MS).unref())]);
      if (answer === undefined) {
        this.clusterFallbacks++;
        // Admitted without the shared count; should the late answer grant slots, give them back.
        void shared.then((late) => late.granted && late.release(), () => undefined);
      } else if (!answer.granted) {
        this.held -= n;
        throw this.full(n, answer.held);
      } else {
        releaseShared = answer.release;
      }
    }
    const t0 = performance.now();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held -= n;
      releaseShared?.();
      this.meanHoldMs = 0.9 * this.meanHoldMs + 0.1 * (performance.now() - t0);
    };
  }

  private full(n: number, held: number): Error {
    const retryAfterSeconds = this.retryAfterSeconds(n, held);
    const where = this.cluster && held !== this.held ? ' across the cluster' : '';
    return apiError('rate_limited', `The server's queue is full (${held} of ${this.limit} requests running or waiting${where}); retry after ${retryAfterSeconds} s.`, undefined, { retryAfterSeconds });
  }

  /** Whole seconds until `n` slots are likely free: queue depth over the limit, in mean hold times. */
  private retryAfterSeconds(n: number, held: number): number {
    const excess = held + n - this.limit;
    return Math.max(1, Math.ceil((this.meanHoldMs / 1000) * Math.ceil(excess / this.limit)));
  }
}
