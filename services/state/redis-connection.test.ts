import { describe, expect, it } from 'vitest';
import { createSequenceStore } from './create-sequence-store.js';
import { StoreConnectionError } from './errors.js';
import { MemorySequenceStore } from './memory-store.js';
import { connectRedis, reconnectDelayMs, redactUrl } from './redis-connection.js';
import { probeRedis, redisRequired, testRedisUrl } from '../../test/fixtures/redis-test-support.js';
import { freePort } from '../../test/fixtures/redis-test-server.js';

describe('reconnect policy', () => {
  it('backs off exponentially and caps the delay, never giving up', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => reconnectDelayMs(n))).toEqual([50, 100, 200, 400, 500, 500, 500]);
    expect(reconnectDelayMs(10_000)).toBe(500);
    expect(reconnectDelayMs(3, 10, 25)).toBe(25);
  });

  it('redacts passwords from URLs', () => {
    expect(redactUrl('redis://user:hunter2@db.internal:6380/2')).toBe('redis://user:***@db.internal:6380/2');
    expect(redactUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
  });

  it('fails with an error naming the URL when the first connection does not come up in time', async () => {
    const port = await freePort(); // nothing listens there
    const url = `redis://app:hunter2@127.0.0.1:${port}/0`;
    const started = Date.now();
    const err = await connectRedis(url, { connectTimeoutMs: 300 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StoreConnectionError);
    const message = (err as Error).message;
    expect(message).toContain(`redis://app:***@127.0.0.1:${port}/0`);
    expect(message).toContain('300 ms');
    expect(message).not.toContain('hunter2');
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

const url = testRedisUrl();
const reachable = await probeRedis(url);

describe('createSequenceStore', () => {
  it('gives the memory store without a URL', async () => {
    for (const url of [undefined, '', 'memory:']) {
      const store = await createSequenceStore(url);
      expect(store.kind).toBe('memory');
      expect(store).toBeInstanceOf(MemorySequenceStore);
      await store.close();
    }
  });

  it('refuses an unknown scheme', async () => {
    await expect(createSequenceStore('http://127.0.0.1:6379')).rejects.toThrow(/redis:\/\//);
  });

  it('surfaces the connection error for an unreachable redis:// URL', async () => {
    const port = await freePort();
    await expect(createSequenceStore(`redis://127.0.0.1:${port}`, { connectTimeoutMs: 200 })).rejects.toThrow(
      `cannot connect to redis://127.0.0.1:${port}`,
    );
  });

  it('gives the Redis store for a redis:// URL', async () => {
    const store = await createSequenceStore(url, { keyPrefix: 'tandem-test:factory:', connectTimeoutMs: 2000 });
    expect(store.kind).toBe('redis');
    expect(await store.get('nothing-here')).toBeUndefined();
    await store.close();
  });
});
