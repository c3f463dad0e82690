/**
 * SealedBus: the same contract as every bus, and what a reader or writer without the cluster
 * key gets from it — ciphertext, and nothing accepted.
 */
import { describe, expect, it } from 'vitest';
import { ClusterKeys } from '../common/security/cluster-keys.js';
import { runBusContract } from './bus.contract.js';
import { decodeJson, encodeJson } from './json.js';
import { MemoryBus } from './memory-bus.js';
import { SealedBus, type Rejection } from './sealed-bus.js';

const keys = ClusterKeys.ephemeral();
runBusContract('sealed memory', async () => new SealedBus(new MemoryBus(), keys.bus));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function setup() {
  const plain = new MemoryBus();
  const rejected: Rejection[] = [];
  const sealed = new SealedBus(plain, keys.bus, (r) => rejected.push(r));
  const outsider = new SealedBus(plain, ClusterKeys.ephemeral().bus);
  return { plain, sealed, outsider, rejected };
}

describe('sealed bus against readers and writers without the key', () => {
  it('a wildcard subscriber on the raw bus sees no prompt token ids', async () => {
    const { plain, sealed } = setup();
    const spy = plain.subscribe('tandem.v1.>');
    const seen: Uint8Array[] = [];
    void (async () => {
      for await (const m of spy) seen.push(m.data);
    })();
    const worker = sealed.subscribe('tandem.v1.kv.reserve.w1');
    void (async () => {
      for await (const m of worker) await sealed.respond(m, encodeJson({ got: decodeJson<{ cacheKeyTokens: number[] }>(m.data).cacheKeyTokens.length }));
    })();
    const reply = await sealed.request('tandem.v1.kv.reserve.w1', encodeJson({ cacheKeyTokens: [424242, 515151] }), { timeoutMs: 1000 });
    expect(decodeJson(reply.data)).toEqual({ got: 2 });
    await sleep(10);
    expect(seen.length).toBeGreaterThan(0);
    for (const d of seen) expect(Buffer.from(d).toString('latin1')).not.toMatch(/424242|cacheKeyTokens/);
    spy.unsubscribe();
    worker.unsubscribe();
  });

  it('drops (and reports) unsigned and foreign messages; delivers its own', async () => {
    const { plain, sealed, outsider, rejected } = setup();
    const sub = sealed.subscribe('tandem.v1.kv.ready.w1');
    const got: unknown[] = [];
    void (async () => {
      for await (const m of sub) got.push(decodeJson(m.data));
    })();
    await plain.publish('tandem.v1.kv.ready.w1', encodeJson({ leaseId: 'forged', ok: false }));
    await outsider.publish('tandem.v1.kv.ready.w1', encodeJson({ leaseId: 'foreign', ok: false }));
    await sealed.publish('tandem.v1.kv.ready.w1', encodeJson({ leaseId: 'real', ok: true }));
    await sleep(10);
    expect(got).toEqual([{ leaseId: 'real', ok: true }]);
    expect(rejected.map((r) => r.reason)).toEqual(['unsigned', 'forged']);
    sub.unsubscribe();
  });

  it('a payload replayed onto another subject does not open', async () => {
    const { plain, sealed, rejected } = setup();
    const captured: Uint8Array[] = [];
    const spy = plain.subscribe('a.one');
    void (async () => {
      for await (const m of spy) captured.push(m.data);
    })();
    await sealed.publish('a.one', encodeJson({ x: 1 }));
    await sleep(5);
    const sub = sealed.subscribe('a.two');
    const got: unknown[] = [];
    void (async () => {
      for await (const m of sub) got.push(m);
    })();
    await plain.publish('a.two', captured[0]!);
    await sleep(10);
    expect(got).toEqual([]);
    expect(rejected).toEqual([{ kind: 'message', where: 'a.two', reason: 'forged' }]);
  });

  it('the trace context is bound to the seal: a message whose traceparent was changed or dropped does not open', async () => {
    const { plain, sealed, rejected } = setup();
    const captured: Array<{ data: Uint8Array; headers: Record<string, string> }> = [];
    const spy = plain.subscribe('t.one');
    void (async () => {
      for await (const m of spy) captured.push({ data: m.data, headers: m.headers });
    })();
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const sub = sealed.subscribe('t.one');
    const got: Array<Record<string, string>> = [];
    void (async () => {
      for await (const m of sub) got.push(m.headers);
    })();
    await sealed.publish('t.one', encodeJson({ x: 1 }), { headers: { traceparent } });
    await sleep(10);
    expect(got).toEqual([{ traceparent }]);
    // The same sealed payload with another trace, or none (a fresh IV each, so not a replay).
    const other = '00-11111111111111111111111111111111-2222222222222222-01';
    await plain.publish('t.one', captured[0]!.data, { headers: { traceparent: other } });
    await plain.publish('t.one', captured[0]!.data);
    await sleep(10);
    expect(got).toHaveLength(1);
    expect(rejected.map((r) => r.reason)).toEqual(['forged', 'forged']);
    // A reply's trace context is bound too.
    const responder = sealed.subscribe('t.rr');
    void (async () => {
      for await (const m of responder) await sealed.respond(m, encodeJson({ ok: true }), { headers: { traceparent } });
    })();
    const reply = await sealed.request('t.rr', encodeJson({}), { timeoutMs: 1000, headers: { traceparent } });
    expect(reply.headers['traceparent']).toBe(traceparent);
    spy.unsubscribe();
    sub.unsubscribe();
    responder.unsubscribe();
  });

  it('a captured message published again, unchanged, is refused as a replay (a second reservation, say)', async () => {
    const { plain, sealed, rejected } = setup();
    const captured: Uint8Array[] = [];
    const spy = plain.subscribe('tandem.v1.kv.ready.w1');
    void (async () => {
      for await (const m of spy) captured.push(m.data);
    })();
    // Two subscriptions in one process each get the message once: the window is per subscription.
    const got: unknown[][] = [[], []];
    for (const list of got) {
      const sub = sealed.subscribe('tandem.v1.kv.ready.w1');
      void (async () => {
        for await (const m of sub) list.push(decodeJson(m.data));
      })();
    }
    await sealed.publish('tandem.v1.kv.ready.w1', encodeJson({ leaseId: 'l1', ok: false }));
    await sleep(5);
    await plain.publish('tandem.v1.kv.ready.w1', captured[0]!);
    await plain.publish('tandem.v1.kv.ready.w1', captured[0]!);
    // A new message with the same content is not a replay.
    await sealed.publish('tandem.v1.kv.ready.w1', encodeJson({ leaseId: 'l1', ok: false }));
    await sleep(10);
    expect(got).toEqual([[{ leaseId: 'l1', ok: false }, { leaseId: 'l1', ok: false }], [{ leaseId: 'l1', ok: false }, { leaseId: 'l1', ok: false }]]);
    expect(rejected.map((r) => r.reason)).toEqual(['replayed', 'replayed', 'replayed', 'replayed']);
  });

  it('a registry record older than one already seen for its key is refused as a replay', async () => {
    const { plain, sealed, rejected } = setup();
    const kv = await sealed.keyValue('reg', { ttlMs: 5000 });
    const raw = await plain.keyValue('reg', { ttlMs: 5000 });
    await kv.put('w1', encodeJson({ id: 'w1', load: 9 }));
    const old = (await raw.get('w1'))!.value;
    expect(decodeJson(((await kv.get('w1'))!).value)).toEqual({ id: 'w1', load: 9 });
    await sleep(3);
    await kv.put('w1', encodeJson({ id: 'w1', load: 0 }));
    expect(decodeJson(((await kv.get('w1'))!).value)).toEqual({ id: 'w1', load: 0 });
    // The worker stops (deletes its record); the old record is put back to resurrect it.
    await kv.delete('w1');
    await raw.put('w1', old);
    expect(await kv.get('w1')).toBeUndefined();
    expect((await kv.entries()).map((e) => e.key)).toEqual([]);
    expect(rejected.map((r) => `${r.where}:${r.reason}`)).toEqual(['reg/w1:replayed', 'reg/w1:replayed']);
    // The same, current record read twice (a watcher restarting) is fine.
    await kv.put('w1', encodeJson({ id: 'w1', load: 1 }));
    expect(await kv.get('w1')).toBeDefined();
    expect(await kv.get('w1')).toBeDefined();
  });

  it('a request refuses a reply that is not sealed for it', async () => {
    const { plain, sealed } = setup();
    const sub = plain.subscribe('tandem.v1.kv.reserve.fake');
    void (async () => {
      for await (const m of sub) await plain.respond(m, encodeJson({ leaseId: 'x', blockIds: [0, 1] }));
    })();
    await expect(sealed.request('tandem.v1.kv.reserve.fake', encodeJson({}), { timeoutMs: 500 })).rejects.toThrow(/not sealed with this cluster's key \(unsigned\)/);
  });

  it('registry records: forged and unsigned ones are invisible to get, entries and watch', async () => {
    const { plain, sealed, outsider, rejected } = setup();
    const kv = await sealed.keyValue('reg', { ttlMs: 5000 });
    const raw = await plain.keyValue('reg', { ttlMs: 5000 });
    const foreign = await outsider.keyValue('reg', { ttlMs: 5000 });
    await kv.put('real', encodeJson({ id: 'real', region: { endpoint: { rkey: 'SECRET-RKEY' } } }));
    await raw.put('fake', encodeJson({ id: 'fake', load: { running: -100 } }));
    await foreign.put('foreign', encodeJson({ id: 'foreign' }));
    expect(Buffer.from((await raw.get('real'))!.value).toString('latin1')).not.toContain('SECRET-RKEY');
    expect((await kv.entries()).map((e) => e.key)).toEqual(['real']);
    expect(await kv.get('fake')).toBeUndefined();
    expect(rejected.filter((r) => r.kind === 'record').map((r) => `${r.where}:${r.reason}`)).toEqual(expect.arrayContaining(['reg/fake:unsigned', 'reg/foreign:forged']));
    // A record copied under another worker's key does not open either.
    await raw.put('copy', (await raw.get('real'))!.value);
    expect(await kv.get('copy')).toBeUndefined();
  });
});
