/**
 * Per-API-key limits shared by every gateway of a cluster: a key's concurrent choices and its
 * requests per minute are counted once for the whole cluster (through Redis), so a tenant given
 * `concurrency=2` gets 2 across all gateway replicas, not 2 per replica. As with the admission
 * bound (cluster-slots.ts), each gateway holds its slots under its own holder id, and a gateway
 * that dies without giving them back stops refreshing its liveness: its slots are freed by the
 * next acquire of that key once the liveness has run out.
 */

/** What one API key may use (from the API keys file); absent fields are unlimited. */
export interface KeyLimits {
  /** Requests per minute, as a token bucket refilled continuously (burst: burstOf). */
  requestsPerMinute?: number;
  /** Choices of this key running or waiting at once. */
  maxConcurrent?: number;
}

/**
 * A request may start when the bucket holds one token. The bucket holds at most a sixth of a
 * minute's allowance (10 s worth, at least 1): a key that was idle gets a short burst, not its
 * whole minute at once.
 */
export function burstOf(requestsPerMinute: number): number {
  return Math.max(1, Math.ceil(requestsPerMinute / 6));
}

/** What the OpenAI-style `x-ratelimit-*` headers of an admitted request report. */
export interface KeyLimitState {
  limitRequests: number;
  remainingRequests: number;
  /** Seconds until the bucket is full again. */
  resetSeconds: number;
}

export interface KeyLimitGrant {
  granted: true;
  /** Gives the concurrency slots back (idempotent). */
  release(): void;
  /** For a request refused later (at the queue bound): its slots and its bucket token back. */
  refund(): void;
  /** The bucket after this request, when the key has an rpm limit. */
  state?: KeyLimitState;
}

export interface KeyLimitRefusal {
  granted: false;
  /** Which limit refused: the key's concurrent choices, or its request rate. */
  limit: 'concurrency' | 'rpm';
  /** The key's choices in flight cluster-wide when refused. */
  inFlight: number;
  /** Whole seconds until a retry can succeed (at least 1). */
  retryAfterSeconds: number;
}

export interface ClusterKeyLimits {
  /**
   * Takes one request of `n` choices for the key named `keyId` (a digest of the API key, never the
   * key itself) against its limits, cluster-wide, or refuses.
   */
  tryAcquire(keyId: string, limits: KeyLimits, n: number): Promise<KeyLimitGrant | KeyLimitRefusal>;
  /** The key's choices in flight cluster-wide (live holders only). */
  inFlight(keyId: string): Promise<number>;
  /** Stops refreshing this holder's liveness (its slots expire unless released). */
  close(): Promise<void>;
}
