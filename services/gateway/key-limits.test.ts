import { describe, expect, it } from 'vitest';
import { ApiError } from '../common/errors/index.js';
import { burstOf, KeyLimiter } from './key-limits.js';

function refusal(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
  throw new Error('expected a refusal');
}

describe('KeyLimiter', () => {
  it('rpm: a burst of a sixth of a minute, then one request per 60/rpm s; Retry-After from the bucket', () => {
    let now = 0;
    const l = new KeyLimiter(() => now);
    const limits = { requestsPerMinute: 60 };
    expect(burstOf(60)).toBe(10);
    for (let i = 0; i < 10; i++) l.acquire('k', limits, 1).release();
    const e = refusal(() => l.acquire('k', limits, 1));
    expect([e.status, e.code, e.headers?.['retry-after']]).toEqual([429, 'rate_limited', '1']);
    now += 999;
    expect(() => l.acquire('k', limits, 1)).toThrow(ApiError);
    now += 2;
    expect(l.acquire('k', limits, 1).state).toMatchObject({ limitRequests: 60, remainingRequests: 0 });
    // A long idle time refills to the burst, never beyond.
    now += 3_600_000;
    for (let i = 0; i < 10; i++) l.acquire('k', limits, 1);
    expect(() => l.acquire('k', limits, 1)).toThrow(ApiError);
  });

  it('keys are independent; a refund gives the token back', () => {
    const l = new KeyLimiter(() => 0);
    const limits = { requestsPerMinute: 1 };
    l.acquire('a', limits, 1).refund();
    l.acquire('a', limits, 1);
    expect(() => l.acquire('a', limits, 1)).toThrow(ApiError);
    expect(() => l.acquire('b', limits, 1)).not.toThrow();
  });

  it('concurrency counts choices held until released; release is idempotent', () => {
    const l = new KeyLimiter(() => 0);
    const limits = { maxConcurrent: 3 };
    const a = l.acquire('k', limits, 2);
    expect(refusal(() => l.acquire('k', limits, 2)).status).toBe(429);
    const b = l.acquire('k', limits, 1);
    a.release();
    a.release();
    expect(() => l.acquire('k', limits, 3)).toThrow(ApiError);
    b.release();
    expect(() => l.acquire('k', limits, 3)).not.toThrow();
  });
});
