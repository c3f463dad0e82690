import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { deleteKeysWithPrefix, probeRedis, testRedisUrl, uniqueKeyPrefix } from '../../../test/fixtures/redis-test-support.js';
import { runClusterSlotsContract } from './cluster-slots.contract.js';
import { MemoryClusterSlots, MemorySlotTable } from './memory-slots.js';
import { RedisClusterSlots } from './redis-slots.js';

runClusterSlotsContract('memory', () => {
  const table = new MemorySlotTable();
  return async (holder, limit, ttlMs) => new MemoryClusterSlots(table, { holder, limit, holderTtlMs: ttlMs });
});

const url = testRedisUrl();
const reachable = await probeRedis(url);
const clients: Redis[] = [];
const prefixes: string[] = [];

describe('Redis cluster admission', () => {
  it('Redis is reachable', () => {
    expect(reachable, `no Redis answering at ${url}`).toBe(true);
  });
});

runClusterSlotsContract('redis', () => {
  const prefix = uniqueKeyPrefix('admission');
  prefixes.push(prefix);
  return async (holder, limit, ttlMs) => {
    if (!reachable) throw new Error(`no Redis answering at ${url}`);
    // One client per holder, as separate gateways have.
    const client = new Redis(url, { maxRetriesPerRequest: null });
    clients.push(client);
    return new RedisClusterSlots(client, { holder, limit, holderTtlMs: ttlMs, prefix });
  };
});

afterAll(async () => {
  if (reachable) {
    const admin = new Redis(url);
    for (const p of prefixes) await deleteKeysWithPrefix(admin, p);
    admin.disconnect();
  }
  for (const c of clients) c.disconnect();
});
