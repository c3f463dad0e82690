import { apiError } from '../common/errors/index.js';
import { burstOf, type KeyLimits, type KeyLimitState } from '../protocol/cluster-key-limits.js';

export { burstOf, type KeyLimits, type KeyLimitState };

interface KeyUsage {
  tokens: number;
  refilledAt: number;
  inFlight: number;
}

/**
 * Per-key limits at the gateway, checked at admission before the shared queue bound: one key
 * flooding the server gets its own 429s with a Retry-After computed from its bucket, while the
 * other keys' requests are still admitted. Counts are exact and per gateway process; with Redis
 * they are also held cluster-wide (key-admission.ts), this count then being the fallback.
 */
export class KeyLimiter {
  private readonly usage = new Map<string, KeyUsage>();

  constructor(private readonly now: () => number = () => performance.now()) {}

  /**
   * Takes one request of `n` choices for `key` or throws 429 `rate_limited`. Answers the release
   * of its concurrency slots (idempotent), `refund` for a request refused later at admission (its
   * bucket token back, its slots released) and the state for the response headers.
   */
  acquire(key: string, limits: KeyLimits, n: number): { release: () => void; refund: () => void; state?: KeyLimitState } {
    const u = this.usageOf(key, limits);
    const rpm = limits.requestsPerMinute;
    if (limits.maxConcurrent !== undefined && u.inFlight + n > limits.maxConcurrent) {
      throw apiError('rate_limited', `This API key already has ${u.inFlight} of its ${limits.maxConcurrent} concurrent requests running; retry when one finishes.`, undefined, { retryAfterSeconds: 1 });
    }
    if (rpm !== undefined) {
      if (u.tokens < 1) {
        const retryAfterSeconds = Math.max(1, Math.ceil(((1 - u.tokens) * 60) / rpm));
        throw apiError('rate_limited', `Rate limit of this API key reached (${rpm} requests per minute); retry after ${retryAfterSeconds} s.`, undefined, { retryAfterSeconds });
      }
      u.tokens -= 1;
    }
    u.inFlight += n;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      u.inFlight -= n;
    };
    const refund = () => {
      if (released) return;
      release();
      if (rpm !== undefined) u.tokens = Math.min(burstOf(rpm), u.tokens + 1);
    };
    if (rpm === undefined) return { release, refund };
    const burst = burstOf(rpm);
    return { release, refund, state: { limitRequests: rpm, remainingRequests: Math.floor(u.tokens), resetSeconds: Math.ceil(((burst - u.tokens) * 60) / rpm) } };
  }

  private usageOf(key: string, limits: KeyLimits): KeyUsage {
    const t = this.now();
    let u = this.usage.get(key);
    const rpm = limits.requestsPerMinute;
    if (!u) {
      u = { tokens: rpm === undefined ? 0 : burstOf(rpm), refilledAt: t, inFlight: 0 };
      this.usage.set(key, u);
    } else if (rpm !== undefined) {
      u.tokens = Math.min(burstOf(rpm), u.tokens + ((t - u.refilledAt) / 60_000) * rpm);
    }
    u.refilledAt = t;
    return u;
  }
}
