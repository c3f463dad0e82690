/**
 * The contract against the shared Redis (TANDEM_TEST_REDIS_URL, default 127.0.0.1:6379), each
 * test under its own key prefix, plus checks of the on-server layout. Without Redis the suite is
 * real server: the suite fails when it is unreachable.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SequenceTamperedError } from './errors.js';
import { LuaScript } from './redis-script.js';
import { TRANSITION_SCRIPT } from './redis-scripts.js';
import { RedisSequenceStore } from './redis-store.js';
import { deleteKeysWithPrefix, probeRedis, redisRequired, testRedisUrl, uniqueKeyPrefix } from '../../test/fixtures/redis-test-support.js';
import { runSequenceStoreContract } from './sequence-store.contract.js';
import { packTokens, unpackTokens } from './token-codec.js';

const url = testRedisUrl();
const reachable = await probeRedis(url);

describe('Redis sequence store', () => {
  it('Redis is reachable', () => {
    expect(reachable, `no Redis answering at ${url}`).toBe(true);
  });

  // The same contract in clear and with the user's data encrypted at rest (at-rest.ts).
  for (const [name, atRestKey] of [['redis', undefined], ['redis, encrypted at rest', randomBytes(32)]] as const) {
  runSequenceStoreContract(name, async ({ terminalTtlMs }) => {
    if (!reachable) throw new Error(`no Redis answering at ${url}`); // fail fast, not one timeout per test
    const keyPrefix = uniqueKeyPrefix('contract');
    const store = await RedisSequenceStore.connect(url, { keyPrefix, terminalTtlMs, connectTimeoutMs: 2000, atRestKey });
    const peers: RedisSequenceStore[] = [];
    return {
      store,
      openPeer: async () => {
        const peer = await RedisSequenceStore.connect(url, { keyPrefix, terminalTtlMs, connectTimeoutMs: 2000, atRestKey });
        peers.push(peer);
        return peer;
      },
      recordTtlMs: async (id) => {
        const ttl = await store.client.pttl(store.keys.record(id));
        return ttl === -2 ? undefined : ttl === -1 ? null : ttl;
      },
      cleanup: async () => {
        const admin = new Redis(url, { lazyConnect: true });
        try {
          await deleteKeysWithPrefix(admin, keyPrefix);
        } finally {
          admin.disconnect();
        }
        for (const peer of peers) await peer.close();
        await store.close();
      },
    };
  });
  }

  describe('on-server layout', () => {
    const keyPrefix = uniqueKeyPrefix('layout');
    let store: RedisSequenceStore;
    let raw: Redis;

    beforeAll(async () => {
      store = await RedisSequenceStore.connect(url, { keyPrefix, connectTimeoutMs: 2000 });
      raw = store.client;
    });
    afterAll(async () => {
      if (store === undefined) return;
      await deleteKeysWithPrefix(raw, keyPrefix);
      await store.close();
    });

    it('keeps a hash, a packed token string and an active zset under the prefix', async () => {
      await store.create({ id: 'L1', promptTokens: 12, deadlineMs: 5000, nowMs: 1000 });
      await store.transition('L1', 'queued', 'prefilling', { workers: { prefill: 'p-1' }, nowMs: 1001 });
      await store.transition('L1', 'prefilling', 'transferring', { nowMs: 1002 });
      await store.transition('L1', 'transferring', 'decoding', { workers: { decode: 'd-1' }, nowMs: 1003 });
      await store.checkpointTokens('L1', 0, [1, 0x01020304]);

      expect(await raw.type(`${keyPrefix}seq:L1`)).toBe('hash');
      const hash = await raw.hgetall(`${keyPrefix}seq:L1`);
      expect(hash).toMatchObject({
        id: 'L1',
        state: 'decoding',
        attempt: '1',
        createdAtMs: '1000',
        updatedAtMs: '1003',
        deadlineMs: '5000',
        promptTokens: '12',
        generatedTokens: '2',
        history: 'qptd',
        't:queued': '1000',
        't:decoding': '1003',
        'w:prefill': 'p-1',
        'w:decode': 'd-1',
      });
      expect(await raw.type(`${keyPrefix}seq:L1:tokens`)).toBe('string');
      const packed = await raw.getBuffer(`${keyPrefix}seq:L1:tokens`);
      expect(packed!.toString('hex')).toBe('01000000' + '04030201'); // uint32 little-endian
      expect(unpackTokens(packed!)).toEqual([1, 0x01020304]);
      expect(await raw.zscore(`${keyPrefix}seq:active`, 'L1')).toBe('5000');
      expect(await raw.pttl(`${keyPrefix}seq:L1`)).toBe(-1);

      await store.transition('L1', 'decoding', 'finished', { nowMs: 1004 });
      expect(await raw.hget(`${keyPrefix}seq:L1`, 'history')).toBe('qptdf');
      expect(await raw.zscore(`${keyPrefix}seq:active`, 'L1')).toBeNull();
      for (const key of [`${keyPrefix}seq:L1`, `${keyPrefix}seq:L1:tokens`]) {
        const pttl = await raw.pttl(key);
        expect(pttl).toBeGreaterThan(3_600_000 - 5000);
        expect(pttl).toBeLessThanOrEqual(3_600_000);
      }
    });

    it('keeps the request as one JSON string written at create, expired with the record', async () => {
      const request = {
        promptTokenIds: [7, 8],
        sampling: { temperature: 0, topP: 1, topK: 0, minP: 0, presencePenalty: 0, frequencyPenalty: 0, repetitionPenalty: 1, seed: 42, maxTokens: 16, stopTokenIds: [], ignoreEos: true },
        eosTokenIds: [2],
      };
      await store.create({ id: 'L4', promptTokens: 2, deadlineMs: 5000, request });
      expect(await raw.type(`${keyPrefix}seq:L4:request`)).toBe('string');
      expect(JSON.parse((await raw.get(`${keyPrefix}seq:L4:request`))!)).toEqual(request);
      expect(await raw.pttl(`${keyPrefix}seq:L4:request`)).toBe(-1);
      await store.transition('L4', 'queued', 'cancelled');
      const pttl = await raw.pttl(`${keyPrefix}seq:L4:request`);
      expect(pttl).toBeGreaterThan(3_600_000 - 5000);
      expect(pttl).toBeLessThanOrEqual(3_600_000);
      // Without a request there is no request key at all.
      await store.create({ id: 'L5', promptTokens: 2, deadlineMs: 5000 });
      expect(await raw.exists(`${keyPrefix}seq:L5:request`)).toBe(0);
    });

    it('applies a re-sent script call (same op id, reply lost) only once', async () => {
      await store.create({ id: 'L3', promptTokens: 1, deadlineMs: 5000 });
      const script = new LuaScript('transition', TRANSITION_SCRIPT);
      const keys = [store.keys.record('L3'), store.keys.tokens('L3'), store.keys.active, store.keys.request('L3')];
      const args = ['L3', 'op-fixed', 'prefilling', 'prefilling', '7', '1000', '', '', ''];
      await store.transition('L3', 'queued', 'prefilling');
      const first = (await script.run(raw, keys, args)) as unknown[];
      const resent = (await script.run(raw, keys, args)) as unknown[];
      expect(first[0]).toBe('ok');
      expect(resent).toEqual(first);
      expect((await store.get('L3'))!.attempt).toBe(2);
      expect((await store.get('L3'))!.history).toEqual(['queued', 'prefilling', 'prefilling']);
    });

    it('does one round trip per state change (EVALSHA), none per token', async () => {
      await store.create({ id: 'L2', promptTokens: 1, deadlineMs: 5000 });
      const sent: string[] = [];
      const original = raw.sendCommand.bind(raw);
      raw.sendCommand = ((command: { name: string }, stream?: unknown) => {
        sent.push(command.name);
        return original(command as never, stream as never);
      }) as typeof raw.sendCommand;
      try {
        await store.transition('L2', 'queued', 'decoding');
        await store.checkpointTokens('L2', 0, Array.from({ length: 64 }, (_, i) => i));
        await store.transition('L2', 'decoding', 'finished');
      } finally {
        raw.sendCommand = original;
      }
      expect(sent).toEqual(['evalsha', 'evalsha', 'evalsha']);
    });
  });

  describe('encrypted at rest', () => {
    const keyPrefix = uniqueKeyPrefix('at-rest');
    const key = randomBytes(32);
    let store: RedisSequenceStore;
    let other: RedisSequenceStore;

    beforeAll(async () => {
      store = await RedisSequenceStore.connect(url, { keyPrefix, connectTimeoutMs: 2000, atRestKey: key });
      other = await RedisSequenceStore.connect(url, { keyPrefix, connectTimeoutMs: 2000, atRestKey: randomBytes(32) });
    });
    afterAll(async () => {
      if (store === undefined) return;
      await deleteKeysWithPrefix(store.client, keyPrefix);
      await store.close();
      await other?.close();
    });

    it('Redis holds neither the prompt nor the tokens in clear; counts and overlap checks still work on the ciphertext', async () => {
      const promptTokenIds = [101, 202, 303, 404, 505];
      const request = {
        promptTokenIds,
        sampling: { temperature: 0, topP: 1, topK: 0, minP: 0, presencePenalty: 0, frequencyPenalty: 0, repetitionPenalty: 1, seed: 42, maxTokens: 16, stopTokenIds: [], ignoreEos: true },
        eosTokenIds: [2],
      };
      await store.create({ id: 'E1', promptTokens: promptTokenIds.length, deadlineMs: 5000, request });
      await store.transition('E1', 'queued', 'decoding');
      const tokens = [1, 2, 3, 0x01020304, 7, 7, 7, 7];
      await store.checkpointTokens('E1', 0, tokens.slice(0, 5));
      await store.checkpointTokens('E1', 3, tokens.slice(3)); // overlapping re-send, then new ones
      const raw = store.client;
      const stored = (await raw.getBuffer(`${keyPrefix}seq:E1:tokens`))!;
      expect(stored.length).toBe(tokens.length * 4);
      expect(stored.equals(packTokens(tokens))).toBe(false);
      const storedRequest = (await raw.get(`${keyPrefix}seq:E1:request`))!;
      expect(storedRequest.startsWith('sealed:v1:')).toBe(true);
      expect(storedRequest).not.toContain('101');
      expect(storedRequest).not.toContain('promptTokenIds');
      // The store itself reads them back.
      expect(await store.getTokens('E1')).toEqual(tokens);
      expect((await store.snapshot('E1'))!.request!.promptTokenIds).toEqual(promptTokenIds);
      // An overwrite with another id is still refused, and says what is stored.
      await expect(store.checkpointTokens('E1', 6, [8])).rejects.toThrow(/token 6 is stored as 7, checkpoint has 8/);
      // Another cluster's key opens nothing: the record's tag does not check out under it.
      await expect(other.snapshot('E1')).rejects.toThrow(SequenceTamperedError);
      await expect(other.getTokens('E1')).rejects.toThrow(SequenceTamperedError);
    });

    it('record fields changed in Redis (state, workers, deadline, attempt, error; a field added, the tag deleted) are refused on read and write, and counted', async () => {
      const tampered: string[] = [];
      const watched = await RedisSequenceStore.connect(url, { keyPrefix, connectTimeoutMs: 2000, atRestKey: key, onTamper: (id, what, kind) => tampered.push(`${kind} ${id}: ${what}`) });
      try {
        await watched.create({ id: 'R1', promptTokens: 3, deadlineMs: 5000 });
        await watched.transition('R1', 'queued', 'prefilling', { workers: { prefill: 'p-0', decode: 'd-0' } });
        await watched.transition('R1', 'prefilling', 'decoding');
        await watched.checkpointTokens('R1', 0, [5, 6, 7]);
        await watched.extendDeadline('R1', 9000);
        expect((await watched.get('R1'))!).toMatchObject({ state: 'decoding', deadlineMs: 9000, generatedTokens: 3, workers: { decode: 'd-0' } });
        expect(tampered).toEqual([]);
        const rec = `${keyPrefix}seq:R1`;
        const raw = watched.client;
        for (const [field, value] of [['state', 'finished'], ['w:decode', 'd-evil'], ['deadlineMs', '1'], ['attempt', '7'], ['error', 'x'], ['w:vision', 'v-evil']] as const) {
          const before = await raw.hget(rec, field);
          await raw.hset(rec, field, value);
          await expect(watched.get('R1'), field).rejects.toThrow(SequenceTamperedError);
          await expect(watched.snapshot('R1'), field).rejects.toThrow(/changed by someone without the cluster secret/);
          await expect(watched.getTokens('R1'), field).rejects.toThrow(SequenceTamperedError);
          // Nor is it written on (re-signed) by the store.
          await expect(watched.transition('R1', 'decoding', 'finished'), field).rejects.toThrow(SequenceTamperedError);
          if (before === null) await raw.hdel(rec, field);
          else await raw.hset(rec, field, before);
          expect((await watched.get('R1'))!.state, field).toBe('decoding');
        }
        expect(tampered.filter((t) => t.startsWith('record R1:')).length).toBeGreaterThanOrEqual(6 * 4);
        // The tag itself deleted: refused too.
        const mac = (await raw.hget(rec, 'mac'))!;
        await raw.hdel(rec, 'mac');
        await expect(watched.get('R1')).rejects.toThrow(SequenceTamperedError);
        expect(tampered.at(-1)).toBe('record R1: the record has no tag');
        await raw.hset(rec, 'mac', mac);
        // Untouched, it goes on as before: the writes sign what they leave.
        await watched.checkpointTokens('R1', 3, [8]);
        await watched.transition('R1', 'decoding', 'finished');
        expect(await watched.getTokens('R1')).toEqual([5, 6, 7, 8]);
      } finally {
        await watched.close();
      }
    });

    it('concurrent writers on one record each sign what they leave (version compare-and-set)', async () => {
      const peer = await RedisSequenceStore.connect(url, { keyPrefix, connectTimeoutMs: 2000, atRestKey: key });
      try {
        await store.create({ id: 'C1', promptTokens: 3, deadlineMs: 5000 });
        await store.transition('C1', 'queued', 'decoding');
        await Promise.all([
          ...Array.from({ length: 8 }, (_, i) => (i % 2 ? store : peer).checkpointTokens('C1', i * 4, [i, i, i, i])),
          ...Array.from({ length: 8 }, (_, i) => (i % 2 ? peer : store).extendDeadline('C1', 6000 + i)),
        ].map((p) => p.catch((e: Error) => (/gap/.test(e.message) ? undefined : Promise.reject(e)))));
        const rec = (await peer.get('C1'))!;
        expect(rec.deadlineMs).toBe(6007);
        expect(rec.state).toBe('decoding');
      } finally {
        await peer.close();
      }
    });

    it('tokens changed in Redis (the ciphertext has no tag of its own) are dropped from reads, never resumed from', async () => {
      const tampered: string[] = [];
      const watched = await RedisSequenceStore.connect(url, { keyPrefix, connectTimeoutMs: 2000, atRestKey: key, onTamper: (id, what) => tampered.push(`${id}: ${what}`) });
      try {
        await watched.create({ id: 'T1', promptTokens: 3, deadlineMs: 5000 });
        await watched.transition('T1', 'queued', 'decoding');
        const tokens = Array.from({ length: 96 }, (_, i) => 1000 + i);
        for (let from = 0; from < 96; from += 32) await watched.checkpointTokens('T1', from, tokens.slice(from, from + 32));
        expect(await watched.getTokens('T1')).toEqual(tokens);
        expect(tampered).toEqual([]);
        const raw = watched.client;
        const key40 = `${keyPrefix}seq:T1:tokens`;
        // One bit of token 40 flipped (in the second checkpoint): only the first 32 stay.
        const stored = (await raw.getBuffer(key40))!;
        stored[40 * 4]! ^= 1;
        await raw.set(key40, stored);
        expect(await watched.getTokens('T1')).toEqual(tokens.slice(0, 32));
        expect((await watched.snapshot('T1'))!.tokens).toEqual(tokens.slice(0, 32));
        expect(tampered.at(-1)).toMatch(/T1: 64 of 96 checkpointed tokens have no valid tag; resuming from the first 32/);
        expect(tampered.every((t) => !t.startsWith('record'))).toBe(true);
        // Restored, then tokens appended behind the store's back (no tag): not read either.
        stored[40 * 4]! ^= 1;
        await raw.set(key40, Buffer.concat([stored, Buffer.alloc(8, 0x11)]));
        expect(await watched.getTokens('T1')).toEqual(tokens);
        // A tag deleted: what it covered and everything after it is dropped.
        await raw.hdel(`${keyPrefix}seq:T1`, 'tag:0:32');
        expect(await watched.getTokens('T1')).toEqual([]);
      } finally {
        await watched.close();
      }
    });
  });
});
