import { randomUUID } from 'node:crypto';
import { AsyncQueue } from '../common/async-queue.js';
import type { Bus, BusMessage, KeyValueBucket, Subscription } from './bus.js';
import { BusClosedError, BusNoRespondersError, BusTimeoutError } from './errors.js';
import { normalizeHeaders } from './headers.js';
import { validateBucketName, validateTtl } from './kv-names.js';
import { MemoryKeyValueBucket } from './memory-kv.js';
import { validateRequestTimeout } from './request-timeout.js';
import { parseSubscribeSubject, replySubject, subjectMatches, validatePublishSubject, validateQueueName } from './subject.js';

/** One interest in a subject pattern: a subscription's queue or a pending request's reply handler. */
interface Route {
  readonly pattern: string;
  readonly tokens: readonly string[];
  readonly queue?: string;
  deliver(msg: BusMessage): void;
}

function groupKey(pattern: string, queue: string): string {
  return `${pattern}\u0000${queue}`;
}

class MemorySubscription implements Subscription {
  private readonly messages: AsyncQueue<BusMessage>;

  constructor(
    readonly subject: string,
    private readonly detach: () => void,
  ) {
    this.messages = new AsyncQueue(detach);
  }

  push(msg: BusMessage): void {
    this.messages.push(msg);
  }

  unsubscribe(): void {
    this.detach();
    this.messages.close();
  }

  [Symbol.asyncIterator](): AsyncIterator<BusMessage> {
    return this.messages[Symbol.asyncIterator]();
  }
}

/**
 * The single-process bus. It keeps NATS semantics so code tested here behaves the same on a
 * cluster: subjects are matched when published (a later subscriber misses earlier messages),
 * delivery is asynchronous and per-subscriber copies, a queue group (same subject pattern and
 * queue name) gets each message once, round-robin across its members, and a request nobody
 * subscribes to fails fast with BusNoRespondersError.
 */
export class MemoryBus implements Bus {
  readonly kind = 'memory' as const;
  readonly online = true;
  private readonly routes = new Set<Route>();
  private readonly subscriptions = new Set<MemorySubscription>();
  private readonly roundRobin = new Map<string, number>();
  private readonly buckets = new Map<string, MemoryKeyValueBucket>();
  private readonly pendingRequests = new Set<(err: Error) => void>();
  private closed = false;

  async publish(subject: string, data: Uint8Array, opts?: { headers?: Record<string, string> }): Promise<void> {
    this.checkOpen();
    validatePublishSubject(subject);
    this.route(subject, data, normalizeHeaders(opts?.headers));
  }

  subscribe(subject: string, opts?: { queue?: string }): Subscription {
    this.checkOpen();
    const tokens = parseSubscribeSubject(subject);
    if (opts?.queue !== undefined) validateQueueName(opts.queue);
    const route: Route = {
      pattern: subject,
      tokens,
      ...(opts?.queue !== undefined ? { queue: opts.queue } : {}),
      deliver: (msg) => sub.push(msg),
    };
    const sub: MemorySubscription = new MemorySubscription(subject, () => {
      this.routes.delete(route);
      this.subscriptions.delete(sub);
      if (route.queue !== undefined && ![...this.routes].some((r) => r.pattern === subject && r.queue === route.queue)) {
        this.roundRobin.delete(groupKey(subject, route.queue));
      }
    });
    this.routes.add(route);
    this.subscriptions.add(sub);
    return sub;
  }

  async request(
    subject: string,
    data: Uint8Array,
    opts: { timeoutMs: number; headers?: Record<string, string> },
  ): Promise<BusMessage> {
    this.checkOpen();
    validatePublishSubject(subject);
    validateRequestTimeout(opts.timeoutMs);
    const headers = normalizeHeaders(opts.headers);
    const inbox = `_INBOX.${randomUUID().replaceAll('-', '')}`;
    return new Promise<BusMessage>((resolve, reject) => {
      const finish = (err: Error | undefined, reply?: BusMessage): void => {
        clearTimeout(timer);
        this.routes.delete(route);
        this.pendingRequests.delete(fail);
        if (err) reject(err);
        else resolve(reply!);
      };
      const fail = (err: Error): void => finish(err);
      const route: Route = { pattern: inbox, tokens: inbox.split('.'), deliver: (msg) => finish(undefined, msg) };
      const timer = setTimeout(() => finish(new BusTimeoutError(subject, opts.timeoutMs)), opts.timeoutMs);
      this.routes.add(route);
      this.pendingRequests.add(fail);
      const delivered = this.route(subject, data, headers, inbox);
      if (delivered === 0) finish(new BusNoRespondersError(subject));
    });
  }

  async respond(msg: BusMessage, data: Uint8Array, opts?: { headers?: Record<string, string> }): Promise<void> {
    await this.publish(replySubject(msg), data, opts);
  }

  async keyValue(bucket: string, opts: { ttlMs: number }): Promise<KeyValueBucket> {
    this.checkOpen();
    validateBucketName(bucket);
    validateTtl(opts.ttlMs);
    let store = this.buckets.get(bucket);
    if (store) store.setTtl(opts.ttlMs);
    else {
      store = new MemoryKeyValueBucket(bucket, opts.ttlMs);
      this.buckets.set(bucket, store);
    }
    return store;
  }

  async flush(): Promise<void> {
    this.checkOpen();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const sub of [...this.subscriptions]) sub.unsubscribe();
    for (const fail of [...this.pendingRequests]) fail(new BusClosedError());
    for (const store of this.buckets.values()) store.close();
    this.buckets.clear();
    this.routes.clear();
  }

  /** Delivers to every matching plain subscriber and to one member of each matching queue group. */
  private route(subject: string, data: Uint8Array, headers: Record<string, string>, reply?: string): number {
    const tokens = subject.split('.');
    const groups = new Map<string, Route[]>();
    let delivered = 0;
    const send = (route: Route): void => {
      const msg: BusMessage = { subject, data: data.slice(), headers: { ...headers } };
      if (reply !== undefined) msg.reply = reply;
      route.deliver(msg);
      delivered++;
    };
    for (const route of [...this.routes]) {
      if (!subjectMatches(route.tokens, tokens)) continue;
      if (route.queue === undefined) {
        send(route);
        continue;
      }
      const key = groupKey(route.pattern, route.queue);
      const members = groups.get(key);
      if (members) members.push(route);
      else groups.set(key, [route]);
    }
    for (const [key, members] of groups) {
      const turn = this.roundRobin.get(key) ?? 0;
      this.roundRobin.set(key, turn + 1);
      send(members[turn % members.length]!);
    }
    return delivered;
  }

  private checkOpen(): void {
    if (this.closed) throw new BusClosedError();
  }
}
