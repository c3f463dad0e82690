import { createHash } from 'node:crypto';
import { apiError } from '../common/errors/index.js';
import type { ClusterKeyLimits, KeyLimitState } from '../protocol/cluster-key-limits.js';
import { CLUSTER_ADMISSION_TIMEOUT_MS } from './admission.js';
import type { ApiKey } from './auth.js';
import type { KeyLimiter } from './key-limits.js';

/** What an admitted request holds of its key's limits. */
export interface KeyHold {
  /** Gives its concurrency slots back (idempotent). */
  release(): void;
  /** Refused later at the queue bound: slots and the bucket token back. */
  refund(): void;
  state?: KeyLimitState;
}

/**
 * The name a key's counters have in Redis: a digest, so the store never holds an API key
 * (whoever reads Redis learns which keys are busy, not what they are).
 */
export function keyLimitId(key: string): string {
  return createHash('sha256').update(`tandem-key-limits-v1\0${key}`).digest('hex').slice(0, 32);
}

/**
 * Per-key limits at admission. This gateway's own count (KeyLimiter) decides first: it only ever
 * sees a part of the key's traffic, so what it refuses the cluster would refuse too (after a Redis
 * outage, the requests it admitted alone make it the stricter one for a while). With
 * `cluster` (the gateway has Redis) the key's limits are then held cluster-wide, so several
 * gateways together give a key no more than its limits. If Redis does not answer within
 * CLUSTER_ADMISSION_TIMEOUT_MS the local decision stands (the limits are then per gateway, as
 * without Redis), counted in `clusterFallbacks`; a late grant is given back.
 */
export class KeyAdmission {
  /** Requests decided on this gateway's count alone because the cluster-wide one did not answer. */
  clusterFallbacks = 0;

  constructor(
    private readonly local: KeyLimiter,
    private readonly cluster?: ClusterKeyLimits,
    private readonly timeoutMs = CLUSTER_ADMISSION_TIMEOUT_MS,
  ) {}

  /** Takes one request of `n` choices for `key` or throws 429 `rate_limited` with Retry-After. */
  async acquire(key: ApiKey, n: number): Promise<KeyHold | undefined> {
    if (!key.limits) return undefined;
    const own = this.local.acquire(key.key, key.limits, n);
    if (!this.cluster) return own;
    const shared = this.cluster.tryAcquire(keyLimitId(key.key), key.limits, n);
    const answer = await Promise.race([shared.catch(() => undefined), new Promise<undefined>((r) => setTimeout(() => r(undefined), this.timeoutMs).unref())]);
    if (answer === undefined) {
      this.clusterFallbacks++;
      void shared.then((late) => late.granted && late.refund(), () => undefined);
      return own;
    }
    if (!answer.granted) {
      own.refund();
      const { retryAfterSeconds } = answer;
      throw answer.limit === 'concurrency'
        ? apiError('rate_limited', `This API key already has ${answer.inFlight} of its ${key.limits.maxConcurrent} concurrent requests running across the cluster; retry when one finishes.`, undefined, { retryAfterSeconds })
        : apiError('rate_limited', `Rate limit of this API key reached across the cluster (${key.limits.requestsPerMinute} requests per minute); retry after ${retryAfterSeconds} s.`, undefined, { retryAfterSeconds });
    }
    return {
      release: () => {
        own.release();
        answer.release();
      },
      refund: () => {
        own.refund();
        answer.refund();
      },
      // The cluster's bucket: what the key has left across every gateway.
      state: answer.state ?? own.state,
    };
  }
}
