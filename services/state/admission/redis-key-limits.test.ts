/**
 * Per-API-key limits shared through the real Redis by several holders (gateways): concurrency
 * exact under concurrent acquires from two holders, one rpm bucket for all of them with the
 * Retry-After it implies, refunds, a killed holder's slots swept once its liveness ran out, and
 * what one check costs (p50 / p99 of acquire + release on the local Redis, printed).
 */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { deleteKeysWithPrefix, probeRedis, testRedisUrl, uniqueKeyPrefix } from '../../../test/fixtures/redis-test-support.js';
import type { KeyLimitGrant, KeyLimitRefusal } from '../../protocol/cluster-key-limits.js';
import { RedisKeyLimits } from './redis-key-limits.js';

const url = testRedisUrl();
const reachable = await probeRedis(url);
const clients: Redis[] = [];
const prefixes: string[] = [];

/** Holders on one fresh prefix, each with its own client (as separate gateways have). */
function freshCluster(): (holder: string, ttlMs?: number) => RedisKeyLimits {
  const prefix = uniqueKeyPrefix('key-limits').slice(0, -1);
  prefixes.push(prefix);
  return (holder, ttlMs) => {
    const client = new Redis(url, { maxRetriesPerRequest: null });
    clients.push(client);
    return new RedisKeyLimits(client, { holder, prefix, holderTtlMs: ttlMs });
  };
}

const granted = (r: KeyLimitGrant | KeyLimitRefusal): r is KeyLimitGrant => r.granted;

async function until(check: () => Promise<boolean>, ms = 2000): Promise<void> {
  for (const t0 = Date.now(); !(await check()); ) {
    if (Date.now() - t0 > ms) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

afterAll(async () => {
  if (reachable) {
    const admin = new Redis(url);
    for (const p of prefixes) await deleteKeysWithPrefix(admin, p);
    admin.disconnect();
  }
  for (const c of clients) c.disconnect();
});

describe('per-key limits shared through Redis', () => {
  it('Redis is reachable', () => {
    expect(reachable, `no Redis answering at ${url}`).toBe(true);
  });

  it('concurrency: two holders share one key\'s limit exactly under concurrent acquires; release gives it back', async () => {
    const open = freshCluster();
    const [a, b] = [open('gw-a'), open('gw-b')];
    const limits = { maxConcurrent: 3 };
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).tryAcquire('k1', limits, 1)));
    const ok = results.filter(granted);
    expect(ok).toHaveLength(3);
    const refused = results.find((r) => !r.granted) as KeyLimitRefusal;
    expect(refused).toEqual({ granted: false, limit: 'concurrency', inFlight: 3, retryAfterSeconds: 1 });
    // Another key is not affected; n choices at once are all or none.
    expect((await a.tryAcquire('k2', limits, 3)).granted).toBe(true);
    expect((await a.tryAcquire('k2', limits, 1)).granted).toBe(false);
    for (const g of ok) g.release();
    for (const g of ok) g.release(); // idempotent
    await until(async () => (await b.inFlight('k1')) === 0);
    expect((await b.tryAcquire('k1', limits, 3)).granted).toBe(true);
    await Promise.all([a.close(), b.close()]);
  });

  it('rpm: one bucket for every holder (burst = a sixth of a minute), Retry-After from it; a refund puts a token back', async () => {
    const open = freshCluster();
    const [a, b] = [open('gw-a'), open('gw-b')];
    const limits = { requestsPerMinute: 12 }; // burst 2, one token every 5 s
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).tryAcquire('k', limits, 1)));
    const ok = results.filter(granted);
    expect(ok).toHaveLength(2);
    expect(ok.map((g) => g.state!.limitRequests)).toEqual([12, 12]);
    expect(ok.map((g) => g.state!.remainingRequests).sort()).toEqual([0, 1]);
    const refused = results.find((r) => !r.granted) as KeyLimitRefusal;
    expect(refused.limit).toBe('rpm');
    expect(refused.retryAfterSeconds).toBeGreaterThanOrEqual(4);
    expect(refused.retryAfterSeconds).toBeLessThanOrEqual(5);
    ok[0]!.refund();
    await until(async () => {
      const r = await b.tryAcquire('k', limits, 1);
      return r.granted;
    });
    expect((await a.tryAcquire('k', limits, 1)).granted).toBe(false);
    await Promise.all([a.close(), b.close()]);
  });

  it("a holder that stops (killed: never releases) has the key's slots freed once its liveness ran out", async () => {
    const open = freshCluster();
    const dead = open('gw-dead', 200);
    const live = open('gw-live', 200);
    const limits = { maxConcurrent: 2 };
    expect((await dead.tryAcquire('k', limits, 2)).granted).toBe(true);
    await dead.close(); // stops refreshing, as a killed process would
    expect((await live.tryAcquire('k', limits, 1)).granted).toBe(false);
    await new Promise((r) => setTimeout(r, 400));
    expect((await live.tryAcquire('k', limits, 2)).granted).toBe(true);
    expect(await live.inFlight('k')).toBe(2);
    await live.close();
  });

  it('costs one round trip: acquire + release latency on this Redis (p50 / p99 printed)', async () => {
    const open = freshCluster();
    const a = open('gw-a');
    const limits = { maxConcurrent: 1000, requestsPerMinute: 600_000 };
    const samples: number[] = [];
    for (let i = 0; i < 500; i++) {
      const t0 = performance.now();
      const g = await a.tryAcquire('bench', limits, 1);
      samples.push(performance.now() - t0);
      if (granted(g)) g.release();
    }
    samples.sort((x, y) => x - y);
    const p = (q: number) => Math.round(samples[Math.floor(q * (samples.length - 1))]! * 1000) / 1000;
    process.stderr.write(`${JSON.stringify({ check: 'key-limit acquire (Redis, loopback)', n: samples.length, p50_ms: p(0.5), p99_ms: p(0.99), max_ms: p(1) })}\n`);
    expect(p(0.5)).toBeLessThan(CLUSTER_CHECK_BUDGET_MS);
    await a.close();
  });
});

/** The gateway waits this long for Redis before deciding on its own count (admission.ts). */
const CLUSTER_CHECK_BUDGET_MS = 250;
