/**
 * The NATS bus across a server crash and restart. Runs its own nats-server (JetStream, temporary
 * store, free port), never the shared one: kills it, publishes while it is down, starts it again
 * on the same port and store, and checks that subscriptions, request/reply, KV and watches resume.
 * It fails when there is no nats-server binary ($NATS_SERVER_BIN, default /usr/sbin/nats-server).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bus, BusMessage, KeyValueWatchEvent } from './bus.js';
import { createBus } from './create-bus.js';
import { BusError } from './errors.js';
import type { NatsBus } from './nats-bus.js';
import { NATS_SERVER_BIN, natsServerAvailable, TestNatsServer } from '../../test/fixtures/nats-test-server.js';

const te = new TextEncoder();
const td = new TextDecoder();

async function waitFor(pred: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms))]);
}

const title = 'NATS bus across a server restart (own nats-server)';

describe(title, () => {
  let server: TestNatsServer;
  let bus: Bus;
  let observer: Bus;

  beforeAll(async () => {
    if (!natsServerAvailable()) throw new Error(`nats-server binary not found at ${NATS_SERVER_BIN}; set NATS_SERVER_BIN`);
    server = await TestNatsServer.start();
    [bus, observer] = await Promise.all([
      createBus(server.url, { reconnectTimeWaitMs: 100, connectTimeoutMs: 5_000 }),
      createBus(server.url, { reconnectTimeWaitMs: 100, connectTimeoutMs: 5_000 }),
    ]);
  });

  afterAll(async () => {
    await Promise.allSettled([bus?.close(), observer?.close()]);
    await server?.destroy();
  });

  it('resumes subscriptions, delivers publishes buffered while down, and keeps request/reply, KV and watches working', async () => {
    // Same connection as the publisher: its subscriptions are re-sent before the buffered
    // publishes, so it must see every one of them, in order.
    const own: BusMessage[] = [];
    const ownSub = bus.subscribe('rs.events.>');
    void (async () => {
      for await (const m of ownSub) own.push(m);
    })();
    // Another connection: it resumes on its own schedule; core NATS keeps nothing for a
    // subscriber that is not (yet) connected, so it is checked with publishes after both are back.
    const remote: BusMessage[] = [];
    const remoteSub = observer.subscribe('rs.events.>');
    void (async () => {
      for await (const m of remoteSub) remote.push(m);
    })();
    const svc = observer.subscribe('rs.svc', { queue: 'svc' });
    void (async () => {
      for await (const m of svc) await observer.respond(m, m.data, { headers: { 'x-echo': m.headers['x-n'] ?? '' } });
    })();
    const kv = await bus.keyValue('restart', { ttlMs: 60_000 });
    await kv.put('before', te.encode('b'));
    const watchEvents: KeyValueWatchEvent[] = [];
    const ac = new AbortController();
    void (async () => {
      for await (const e of kv.watch(ac.signal)) watchEvents.push(e);
    })();
    await Promise.all([bus.flush(), observer.flush()]);
    await bus.publish('rs.events.up', te.encode('0'));
    await waitFor(() => own.length === 1 && remote.length === 1 && watchEvents.length === 1, 3_000, 'delivery before the restart');

    await server.kill();
    // Until the client has noticed the dead socket, publishes go to the wire and are lost (core
    // NATS is at-most-once); from then on the bus holds them and sends them after the reconnect.
    await waitFor(() => !(bus as NatsBus).online, 2_000, 'the client noticing the crash');
    for (let i = 1; i <= 5; i++) await bus.publish('rs.events.buffered', te.encode(String(i)), { headers: { 'x-n': String(i) } });
    const flushed = bus.flush(); // a readiness check during the outage waits for the server
    let flushDone = false;
    void flushed.then(() => (flushDone = true));
    await new Promise((r) => setTimeout(r, 400));
    expect(flushDone).toBe(false);
    await server.launch();

    await withTimeout(Promise.all([flushed, observer.flush()]), 10_000, 'reconnect');
    await waitFor(() => own.length === 6, 5_000, 'buffered publishes after the restart');
    expect(own.map((m) => td.decode(m.data))).toEqual(['0', '1', '2', '3', '4', '5']);
    expect(own[5]!.headers).toEqual({ 'x-n': '5' });

    await bus.publish('rs.events.after', te.encode('6'));
    await waitFor(() => own.length === 7 && remote.some((m) => td.decode(m.data) === '6'), 3_000, 'a publish after the restart');

    const reply = await bus.request('rs.svc', te.encode('ping'), { timeoutMs: 3_000, headers: { 'x-n': '7' } });
    expect(td.decode(reply.data)).toBe('ping');
    expect(reply.headers).toEqual({ 'x-echo': '7' });

    // The file-backed bucket survived; writes go on and the watch resumes without repeating itself.
    expect(td.decode((await kv.get('before'))?.value)).toBe('b');
    await kv.put('after', te.encode('a'));
    await waitFor(() => watchEvents.some((e) => e.key === 'after'), 3_000, 'watch event after the restart');
    expect(watchEvents.map((e) => `${e.op}:${e.key}`)).toEqual(['put:before', 'put:after']);
    ac.abort();
    for (const s of [ownSub, remoteSub, svc]) s.unsubscribe();
  });

  it('waits for the server within a request timeout during an outage', async () => {
    // The responder shares the requester's connection, so it is back as soon as the requester
    // is; a responder on another connection may come back later, and until then the request
    // fails with BusNoRespondersError, as on any NATS cluster.
    const svc = bus.subscribe('rs.svc2');
    void (async () => {
      for await (const m of svc) await bus.respond(m, te.encode('pong'));
    })();
    await bus.flush();
    await server.kill();
    await waitFor(() => !(bus as NatsBus).online, 2_000, 'the client noticing the crash');
    const pending = bus.request('rs.svc2', te.encode('ping'), { timeoutMs: 8_000 });
    await new Promise((r) => setTimeout(r, 300));
    await server.launch();
    expect(td.decode((await pending).data)).toBe('pong');
    svc.unsubscribe();
  });

  it('fails a request in flight when the connection drops, at once rather than at its timeout', async () => {
    // A responder that holds the request: its reply could only come over the dead connection.
    const held = observer.subscribe('rs.held');
    let got = 0;
    void (async () => {
      for await (const _m of held) got++;
    })();
    await observer.flush();
    const t0 = Date.now();
    const pending = bus.request('rs.held', te.encode('ping'), { timeoutMs: 8_000 });
    const settled = pending.then(
      () => 'answered',
      (e: Error) => e,
    );
    await waitFor(() => got === 1, 2_000, 'the request reaching the responder');
    await server.kill();
    const outcome = await settled;
    expect(outcome).toBeInstanceOf(BusError);
    expect((outcome as Error).message).toMatch(/connection lost during the request to 'rs\.held'/);
    expect(Date.now() - t0).toBeLessThan(2_000);
    await server.launch();
    await withTimeout(Promise.all([bus.flush(), observer.flush()]), 10_000, 'reconnect');
    held.unsubscribe();
  });

  it('recreates a bucket lost with the server store; its watch reports the loss and carries on', async () => {
    const kv = await bus.keyValue('lost', { ttlMs: 60_000 });
    await kv.put('a', te.encode('1'));
    await kv.put('b', te.encode('1'));
    const events: KeyValueWatchEvent[] = [];
    const ac = new AbortController();
    void (async () => {
      for await (const e of kv.watch(ac.signal)) events.push(e);
    })();
    await waitFor(() => events.length === 2, 3_000, 'initial watch events');

    await server.kill();
    server.wipeStore();
    await server.launch();
    await withTimeout(bus.flush(), 10_000, 'reconnect');

    // The old handle still works: the first put recreates the bucket.
    await kv.put('c', te.encode('2'));
    expect(await kv.keys()).toEqual(['c']);
    await waitFor(() => events.some((e) => e.key === 'c'), 5_000, 'watch after the store loss');
    expect(events.map((e) => `${e.op}:${e.key}${e.lost ? ' (lost)' : ''}`)).toEqual(['put:a', 'put:b', 'delete:a (lost)', 'delete:b (lost)', 'put:c']);
    ac.abort();
  });
});
