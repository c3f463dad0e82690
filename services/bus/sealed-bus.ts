/**
 * A Bus that seals every payload with the cluster's bus key (services/common/security/seal.ts):
 * messages, request replies and key-value records. Decorates any Bus, so callers keep sending
 * and receiving plain JSON and never learn that NATS only ever carries ciphertext.
 *
 * What it rejects — a payload that is not sealed (`unsigned`), does not open under this key or
 * was moved to another subject/key (`forged`), is older than SEAL_MAX_AGE_MS (`stale`), or was
 * already received (`replayed`: the same message again on a subscription, or a registry record
 * older than one already seen for its key) — is dropped as if it never arrived and reported to
 * `onReject` (every service counts it in a metric).
 * What it cannot stop without NATS permissions: deletes of registry keys (they carry no payload)
 * and floods; see docs/security.md.
 */
import { RecordClock, ReplayWindow } from '../common/security/replay-window.js';
import { open, seal, sealId } from '../common/security/seal.js';
import type { Bus, BusMessage, KeyValueBucket, KeyValueEntry, KeyValueWatchEvent, Subscription } from './bus.js';
import { BusAuthError } from './errors.js';

export type RejectReason = 'unsigned' | 'forged' | 'stale' | 'replayed';
export interface Rejection {
  /** `message`: a subject's payload or a reply; `record`: a key-value entry (the worker registry). */
  kind: 'message' | 'record';
  /** The subject, or `bucket/key`. */
  where: string;
  reason: RejectReason;
}

/**
 * The W3C trace context a message carries in its headers (trace ids, no content) is bound to its
 * seal: a header changed, added or dropped on the way makes the payload not open (`forged`), so
 * nobody without the key can splice a request into another trace. Other headers are not bound.
 */
const TRACE_HEADERS = ['traceparent', 'tracestate'] as const;
function traceBinding(headers: Record<string, string> | undefined): string {
  return TRACE_HEADERS.map((h) => `${h}=${headers?.[h]?.trim() ?? ''}`).join('|');
}
const messageContext = (subject: string, headers: Record<string, string> | undefined) => `msg|${subject}|${traceBinding(headers)}`;
const replyContext = (subject: string, requestId: string, headers: Record<string, string> | undefined) => `reply|${subject}|${requestId}|${traceBinding(headers)}`;
const recordContext = (bucket: string, key: string) => `kv|${bucket}|${key}`;

export class SealedBus implements Bus {
  /** What a received request needs to seal its reply: the inner message and the request's seal id. */
  private readonly requests = new WeakMap<BusMessage, { inner: BusMessage; subject: string; requestId: string }>();

  constructor(
    private readonly inner: Bus,
    private readonly key: Buffer,
    private readonly onReject: (r: Rejection) => void = () => {},
  ) {}

  get kind(): Bus['kind'] {
    return this.inner.kind;
  }

  get online(): boolean {
    return this.inner.online ?? true;
  }

  publish(subject: string, data: Uint8Array, opts?: { headers?: Record<string, string> }): Promise<void> {
    return this.inner.publish(subject, seal(this.key, messageContext(subject, opts?.headers), data), opts);
  }

  subscribe(subject: string, opts?: { queue?: string }): Subscription {
    const sub = this.inner.subscribe(subject, opts);
    const self = this;
    const replays = new ReplayWindow();
    return {
      subject: sub.subject,
      unsubscribe: () => sub.unsubscribe(),
      async *[Symbol.asyncIterator]() {
        for await (const msg of sub) {
          const opened = open(self.key, messageContext(msg.subject, msg.headers), msg.data);
          if (!opened.ok) {
            self.onReject({ kind: 'message', where: msg.subject, reason: opened.reason });
            continue;
          }
          if (!replays.accept(sealId(msg.data), opened.issuedMs)) {
            self.onReject({ kind: 'message', where: msg.subject, reason: 'replayed' });
            continue;
          }
          const plain: BusMessage = { ...msg, data: opened.plaintext };
          if (msg.reply !== undefined) self.requests.set(plain, { inner: msg, subject: msg.subject, requestId: sealId(msg.data) });
          yield plain;
        }
      },
    };
  }

  async request(subject: string, data: Uint8Array, opts: { timeoutMs: number; headers?: Record<string, string> }): Promise<BusMessage> {
    const sealed = seal(this.key, messageContext(subject, opts.headers), data);
    const reply = await this.inner.request(subject, sealed, opts);
    // The reply must answer this very request: its context names the request's seal id.
    const opened = open(this.key, replyContext(subject, sealId(sealed), reply.headers), reply.data);
    if (!opened.ok) {
      this.onReject({ kind: 'message', where: `reply to ${subject}`, reason: opened.reason });
      throw new BusAuthError(subject, opened.reason);
    }
    return { ...reply, data: opened.plaintext };
  }

  respond(msg: BusMessage, data: Uint8Array, opts?: { headers?: Record<string, string> }): Promise<void> {
    const req = this.requests.get(msg);
    // A message that did not come through this bus's subscriptions has nobody sealed to answer.
    if (!req) return Promise.reject(new TypeError('SealedBus.respond: the message was not received through this sealed bus'));
    return this.inner.respond(req.inner, seal(this.key, replyContext(req.subject, req.requestId, opts?.headers), data), opts);
  }

  async keyValue(bucket: string, opts: { ttlMs: number }): Promise<KeyValueBucket> {
    return new SealedBucket(await this.inner.keyValue(bucket, opts), bucket, this.key, this.onReject);
  }

  flush(): Promise<void> {
    return this.inner.flush();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

class SealedBucket implements KeyValueBucket {
  private readonly clock = new RecordClock();

  constructor(
    private readonly inner: KeyValueBucket,
    private readonly bucket: string,
    private readonly key: Buffer,
    private readonly onReject: (r: Rejection) => void,
  ) {}

  private open(key: string, value: Uint8Array): Uint8Array | undefined {
    const opened = open(this.key, recordContext(this.bucket, key), value);
    if (!opened.ok) {
      this.onReject({ kind: 'record', where: `${this.bucket}/${key}`, reason: opened.reason });
      return undefined;
    }
    if (!this.clock.accept(key, opened.issuedMs)) {
      this.onReject({ kind: 'record', where: `${this.bucket}/${key}`, reason: 'replayed' });
      return undefined;
    }
    return opened.plaintext;
  }

  put(key: string, value: Uint8Array): Promise<number> {
    return this.inner.put(key, seal(this.key, recordContext(this.bucket, key), value));
  }

  async get(key: string): Promise<KeyValueEntry | undefined> {
    const e = await this.inner.get(key);
    const value = e && this.open(key, e.value);
    return e && value ? { ...e, value } : undefined;
  }

  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }

  keys(): Promise<string[]> {
    return this.inner.keys();
  }

  async entries(): Promise<KeyValueEntry[]> {
    const out: KeyValueEntry[] = [];
    for (const e of await this.inner.entries()) {
      const value = this.open(e.key, e.value);
      if (value) out.push({ ...e, value });
    }
    return out;
  }

  async *watch(signal?: AbortSignal): AsyncIterable<KeyValueWatchEvent> {
    for await (const ev of this.inner.watch(signal)) {
      if (ev.op === 'delete' || !ev.value) {
        yield ev;
        continue;
      }
      const value = this.open(ev.key, ev.value);
      if (value) yield { ...ev, value };
    }
  }
}
