/**
 * The orphan sweeper against both stores (in memory and the real Redis): an active record well
 * past its deadline is failed and leaves the active set, once; a record within its deadline (or
 * its grace), a terminal one, and one that moved meanwhile are left alone; two routers sweeping
 * the same store fail each orphan once.
 */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { MemorySequenceStore, RedisSequenceStore, type SequenceStore } from '../state/index.js';
import { deleteKeysWithPrefix, testRedisUrl, uniqueKeyPrefix } from '../../test/fixtures/redis-test-support.js';
import { ORPHAN_ERROR, OrphanSweeper } from './orphan-sweeper.js';

const NOW = Date.now();
const url = testRedisUrl();
const prefixes: string[] = [];
const stores: SequenceStore[] = [];

afterAll(async () => {
  for (const s of stores) await s.close();
  const admin = new Redis(url, { lazyConnect: true });
  try {
    for (const p of prefixes) await deleteKeysWithPrefix(admin, p);
  } finally {
    admin.disconnect();
  }
});

const backends: Array<[string, () => Promise<{ store: SequenceStore; peer: SequenceStore }>]> = [
  ['memory', async () => {
    const store = new MemorySequenceStore();
    return { store, peer: store };
  }],
  ['redis', async () => {
    const keyPrefix = uniqueKeyPrefix('sweeper');
    prefixes.push(keyPrefix);
    const store = await RedisSequenceStore.connect(url, { keyPrefix, connectTimeoutMs: 2000 });
    const peer = await RedisSequenceStore.connect(url, { keyPrefix, connectTimeoutMs: 2000 });
    stores.push(store, peer);
    return { store, peer };
  }],
];

describe.each(backends)('orphan sweeper (%s store)', (_name, open) => {
  it('fails active records well past their deadline, once, and leaves everything else', async () => {
    const { store, peer } = await open();
    const at = (id: string, deadlineMs: number) => store.create({ id, promptTokens: 4, deadlineMs, nowMs: NOW - 120_000 });
    await at('orphan-decoding', NOW - 60_000);
    await store.transition('orphan-decoding', 'queued', 'decoding', { nowMs: NOW - 100_000 });
    await at('orphan-queued', NOW - 45_000);
    await at('in-grace', NOW - 10_000); // past its deadline, but within the 30 s grace
    await at('live', NOW + 60_000);
    await at('done', NOW - 60_000);
    await store.transition('done', 'queued', 'cancelled', { nowMs: NOW - 90_000 });

    let swept = 0;
    const options = { now: () => NOW, graceMs: 30_000, intervalMs: 3_600_000, onSwept: (n: number) => (swept += n) };
    const a = new OrphanSweeper(store, options);
    const b = new OrphanSweeper(peer, options);
    try {
      // Two routers sweeping at once: each orphan is failed by exactly one of them.
      const [x, y] = await Promise.all([a.sweep(), b.sweep()]);
      expect(x + y).toBe(2);
      expect(swept).toBe(2);
      for (const id of ['orphan-decoding', 'orphan-queued']) {
        const rec = await store.get(id);
        expect(rec).toMatchObject({ state: 'failed', error: ORPHAN_ERROR });
      }
      expect((await store.get('in-grace'))!.state).toBe('queued');
      expect((await store.get('live'))!.state).toBe('queued');
      expect((await store.get('done'))!.state).toBe('cancelled');
      // Failed records left the active set: the next look finds nothing.
      expect(await a.sweep()).toBe(0);
      expect(await store.expired(NOW)).toEqual(['in-grace']);
    } finally {
      a.stop();
      b.stop();
    }
  });
});
