import { ErrorCode, NatsError, type JetStreamManager, type Msg, type NatsConnection, type Subscription as NatsSub } from 'nats';
import type { Bus, BusMessage, KeyValueBucket, Subscription } from './bus.js';
import { BusClosedError, BusError, BusTimeoutError } from './errors.js';
import { normalizeHeaders } from './headers.js';
import { validateBucketName, validateTtl } from './kv-names.js';
import { connectNats, type NatsConnectOptions } from './nats-connect.js';
import { toBusError } from './nats-errors.js';
import { fromNatsHeaders, toNatsHeaders } from './nats-headers.js';
import { NatsKeyValueBucket } from './nats-kv.js';
import { NatsLink } from './nats-link.js';
import { validateRequestTimeout } from './request-timeout.js';
import { parseSubscribeSubject, replySubject, validatePublishSubject, validateQueueName } from './subject.js';

const DRAIN_TIMEOUT_MS = 5_000;

function toBusMessage(m: Msg): BusMessage {
  // Copy out of the socket chunk the payload is a view into.
  const msg: BusMessage = { subject: m.subject, data: m.data.slice(), headers: fromNatsHeaders(m.headers) };
  if (m.reply) msg.reply = m.reply;
  return msg;
}

class NatsSubscription implements Subscription {
  constructor(
    readonly subject: string,
    private readonly sub: NatsSub,
  ) {}

  unsubscribe(): void {
    if (this.sub.isClosed()) return;
    try {
      this.sub.unsubscribe();
    } catch {
      // The connection is already closed, which ended the subscription anyway.
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<BusMessage> {
    try {
      for await (const m of this.sub) yield toBusMessage(m);
    } catch (err) {
      // e.g. a subscription the server's subject permissions refuse
      throw toBusError(err, this.subject);
    } finally {
      this.unsubscribe();
    }
  }
}

/**
 * The cluster bus over one NATS connection. The client reconnects forever: subscriptions are
 * re-sent to the restarted server and publishes made meanwhile wait in the client's buffer.
 * Publishing is fire-and-forget like NATS itself; `flush()` waits for the server.
 */
export class NatsBus implements Bus {
  readonly kind = 'nats' as const;
  private closed = false;
  private jsm: Promise<JetStreamManager> | undefined;
  /** Open bucket handles by name; reopening with the same TTL answers the same handle. */
  private readonly buckets = new Map<string, NatsKeyValueBucket>();
  private readonly allBuckets = new Set<NatsKeyValueBucket>();
  private readonly link: NatsLink;

  constructor(private readonly nc: NatsConnection) {
    this.link = new NatsLink(nc);
    // A connection that closes on its own (e.g. fatal auth error) closes the bus with it.
    void nc.closed().then(() => {
      this.closed = true;
      for (const b of this.allBuckets) b.close();
    });
  }

  /** Whether the connection to the server is up right now (false while reconnecting or closed). */
  get online(): boolean {
    return !this.closed && this.link.online;
  }

  static async connect(url: string, opts?: NatsConnectOptions): Promise<NatsBus> {
    return new NatsBus(await connectNats(url, opts));
  }

  async publish(subject: string, data: Uint8Array, opts?: { headers?: Record<string, string> }): Promise<void> {
    this.checkOpen();
    validatePublishSubject(subject);
    const headers = toNatsHeaders(normalizeHeaders(opts?.headers));
    this.wrap(subject, () => this.link.publish(subject, data, headers));
  }

  subscribe(subject: string, opts?: { queue?: string }): Subscription {
    this.checkOpen();
    parseSubscribeSubject(subject);
    if (opts?.queue !== undefined) validateQueueName(opts.queue);
    const sub = this.wrap(subject, () => this.nc.subscribe(subject, opts?.queue !== undefined ? { queue: opts.queue } : {}));
    return new NatsSubscription(subject, sub);
  }

  async request(
    subject: string,
    data: Uint8Array,
    opts: { timeoutMs: number; headers?: Record<string, string> },
  ): Promise<BusMessage> {
    this.checkOpen();
    validatePublishSubject(subject);
    validateRequestTimeout(opts.timeoutMs);
    const headers = toNatsHeaders(normalizeHeaders(opts.headers));
    const deadline = Date.now() + opts.timeoutMs;
    try {
      // While reconnecting, wait (within the timeout) rather than send into a buffer nats.js drops.
      if (!(await this.link.waitOnline(deadline))) {
        throw this.closed ? new BusClosedError() : new BusTimeoutError(subject, opts.timeoutMs);
      }
      const timeout = Math.max(1, deadline - Date.now());
      // A reply cannot come back over a connection that dropped (core NATS is at-most-once, and
      // the responder may not even have got the request): fail now rather than at the timeout,
      // so the caller can take another way. Not re-sent: the request may have been handled.
      let offDisconnect = (): void => undefined;
      const lost = new Promise<never>((_, reject) => {
        offDisconnect = this.link.onDisconnect(() => reject(new BusError(`NATS connection lost during the request to '${subject}'; the client is reconnecting`)));
      });
      try {
        return toBusMessage(await Promise.race([this.nc.request(subject, data, { timeout, ...(headers ? { headers } : {}) }), lost]));
      } finally {
        offDisconnect();
      }
    } catch (err) {
      throw this.closed ? new BusClosedError(undefined, { cause: err }) : toBusError(err, subject, opts.timeoutMs);
    }
  }

  async respond(msg: BusMessage, data: Uint8Array, opts?: { headers?: Record<string, string> }): Promise<void> {
    await this.publish(replySubject(msg), data, opts);
  }

  async keyValue(bucket: string, opts: { ttlMs: number }): Promise<KeyValueBucket> {
    this.checkOpen();
    validateBucketName(bucket);
    validateTtl(opts.ttlMs);
    const cached = this.buckets.get(bucket);
    if (cached && cached.ttlMs === opts.ttlMs) return cached;
    try {
      this.jsm ??= this.nc.jetstreamManager();
      const jsm = await this.jsm;
      const kv = await NatsKeyValueBucket.open(this.nc.jetstream(), jsm, this.link, bucket, opts.ttlMs, () => this.closed);
      // A handle with another TTL stays usable (watches keep running); new callers get this one.
      this.buckets.set(bucket, kv);
      this.allBuckets.add(kv);
      return kv;
    } catch (err) {
      if (this.closed) throw new BusClosedError(undefined, { cause: err });
      const mapped = toBusError(err, `$KV.${bucket}`);
      if (mapped instanceof BusError) throw mapped;
      this.jsm = undefined;
      throw new BusError(`JetStream key-value bucket '${bucket}' is unavailable: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Waits for a round trip; while reconnecting that means waiting for the server to come back. */
  async flush(): Promise<void> {
    for (;;) {
      this.checkOpen();
      await this.link.waitOnline(Number.POSITIVE_INFINITY);
      this.checkOpen();
      try {
        await this.nc.flush();
        return;
      } catch (err) {
        // nats.js fails pending pings when the link drops; try again once it is back.
        if (err instanceof NatsError && err.code === ErrorCode.Disconnect) continue;
        throw this.closed ? new BusClosedError(undefined, { cause: err }) : toBusError(err, 'flush');
      }
    }
  }

  /** Drains (delivers what is buffered and lets subscribers finish what they hold), then closes. */
  async close(): Promise<void> {
    if (this.closed && this.nc.isClosed()) return;
    this.closed = true;
    for (const b of this.allBuckets) b.close();
    this.allBuckets.clear();
    this.buckets.clear();
    if (this.nc.isClosed()) return;
    // Nothing can be drained while the server is away.
    if (!this.link.online) return this.nc.close();
    // Drain waits for the server; while it is away (reconnecting) give up after a bound and close.
    const drained = this.nc.drain().then(
      () => true,
      () => false,
    );
    const timedOut = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), DRAIN_TIMEOUT_MS).unref());
    if (!(await Promise.race([drained, timedOut])) && !this.nc.isClosed()) await this.nc.close();
  }

  private wrap<T>(subject: string, op: () => T): T {
    try {
      return op();
    } catch (err) {
      throw toBusError(err, subject);
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new BusClosedError();
  }
}
