/**
 * deploy/redis/start.sh, the Redis that compose runs: a user per component from generated
 * password files, checked against a real redis-server started by the script itself. The router's
 * user runs the sequence store, the gateway's the cluster-wide admission count and nothing else,
 * a client without credentials gets nothing, and the healthcheck's user can only PING.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSequenceStore } from '../../services/state/index.js';
import { RedisKeyLimits } from '../../services/state/admission/redis-key-limits.js';
import { RedisClusterSlots } from '../../services/state/admission/redis-slots.js';
import { connectRedis } from '../../services/state/redis-connection.js';
import { rawCommand, redisServerAvailable, TestRedisServer } from '../fixtures/redis-test-server.js';

const SCRIPT = join(import.meta.dirname, '..', '..', 'deploy', 'redis', 'start.sh');
let dir: string;
let port: number;
let server: TestRedisServer;
const password = (user: string) => join(dir, user, 'password');

beforeAll(async () => {
  if (!redisServerAvailable()) throw new Error('redis-server not found (install redis-server; .ci/run does)');
  dir = mkdtempSync(join(tmpdir(), 'tandem-redis-acl-'));
  // The same generator compose's one-shot runs, into one directory per user (compose: a volume each).
  for (const user of ['router', 'gateway']) mkdirSync(join(dir, user));
  execFileSync('sh', [join(import.meta.dirname, '..', '..', 'deploy', 'nats', 'gen-passwords.sh'), join(dir, 'router'), join(dir, 'gateway')].map(String), { stdio: 'pipe', env: { ...process.env } });
  server = await TestRedisServer.start([], {
    launcher: ['sh', SCRIPT],
    env: { TANDEM_REDIS_PASSWORDS_DIR: dir, TANDEM_REDIS_ACL_FILE: join(dir, 'acl', 'users.acl') },
  });
  port = server.port;
}, 20_000);

afterAll(async () => {
  await server?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const env = (user: string) => ({ TANDEM_REDIS_USER: user, TANDEM_REDIS_PASSWORD_FILE: password(user) });

describe('deploy/redis/start.sh: a Redis user per component', () => {
  it('the router user runs the sequence store', async () => {
    const store = await createSequenceStore(`redis://127.0.0.1:${port}`, { env: env('router'), connectTimeoutMs: 3000 });
    try {
      await store.create({ id: 'acl-probe', promptTokens: 3, deadlineMs: Date.now() + 60_000, request: { promptTokenIds: [1, 2, 3], sampling: { temperature: 0, topP: 1, topK: 0, minP: 0, presencePenalty: 0, frequencyPenalty: 0, repetitionPenalty: 1, maxTokens: 4, stopTokenIds: [], ignoreEos: false }, eosTokenIds: [] } });
      await store.transition('acl-probe', 'queued', 'decoding');
      await store.checkpointTokens('acl-probe', 0, [7, 8]);
      expect((await store.snapshot('acl-probe'))?.tokens).toEqual([7, 8]);
    } finally {
      await store.close();
    }
  });

  it('the gateway user keeps the admission count, and can read no sequence', async () => {
    const client = await connectRedis(`redis://127.0.0.1:${port}`, { env: env('gateway'), connectTimeoutMs: 3000 });
    try {
      const slots = new RedisClusterSlots(client, { holder: 'gw-1', limit: 2, prefix: 'tandem:{acl}:admission:m' });
      const a = await slots.tryAcquire(2);
      expect(a.granted).toBe(true);
      expect(await slots.tryAcquire(1)).toEqual({ granted: false, held: 2 });
      if (a.granted) a.release();
      for (let t0 = Date.now(); (await slots.held()) !== 0 && Date.now() - t0 < 2000; ) await new Promise((r) => setTimeout(r, 10));
      expect(await slots.held()).toBe(0);
      await slots.close();
      // The API keys' cluster-wide limits (concurrency slots and rpm bucket), as the gateway keeps them.
      const keys = new RedisKeyLimits(client, { holder: 'gw-1', prefix: 'tandem:{acl}:admission:' });
      const k = await keys.tryAcquire('key-digest', { maxConcurrent: 1, requestsPerMinute: 6 }, 1);
      expect(k.granted).toBe(true);
      expect(await keys.tryAcquire('key-digest', { maxConcurrent: 1, requestsPerMinute: 6 }, 1)).toMatchObject({ granted: false, limit: 'concurrency' });
      if (k.granted) k.refund();
      for (let t0 = Date.now(); (await keys.inFlight('key-digest')) !== 0 && Date.now() - t0 < 2000; ) await new Promise((r) => setTimeout(r, 10));
      expect(await keys.inFlight('key-digest')).toBe(0);
      await keys.close();
      await expect(client.hgetall('tandem:seq:acl-probe')).rejects.toThrow(/NOPERM/);
      await expect(client.get('tandem:seq:acl-probe:request')).rejects.toThrow(/NOPERM/);
      await expect(client.keys('*')).rejects.toThrow(/NOPERM/);
    } finally {
      client.disconnect();
    }
  });

  it('no credentials, a wrong password, or the health user: nothing but a refusal (health may PING)', async () => {
    expect(await rawCommand(port, ['GET', 'tandem:seq:acl-probe'])).toMatch(/NOAUTH/);
    const wrong = join(dir, 'wrong');
    writeFileSync(wrong, 'nope\n');
    await expect(createSequenceStore(`redis://127.0.0.1:${port}`, { env: { TANDEM_REDIS_USER: 'router', TANDEM_REDIS_PASSWORD_FILE: wrong }, connectTimeoutMs: 1500 })).rejects.toThrow(/WRONGPASS|invalid/i);
    const health = new Redis({ port, username: 'health', password: 'x', lazyConnect: true, enableReadyCheck: false, maxRetriesPerRequest: 0 });
    try {
      await health.connect();
      expect(await health.ping()).toBe('PONG');
      await expect(health.get('tandem:seq:acl-probe')).rejects.toThrow(/NOPERM/);
    } finally {
      health.disconnect();
    }
  });
});
