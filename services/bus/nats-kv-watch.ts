import type { KV, KvEntry, QueuedIterator } from 'nats';
import { AsyncQueue } from '../common/async-queue.js';
import type { KeyValueWatchEvent } from './bus.js';
import { isMissingStream, toBusError } from './nats-errors.js';
import type { NatsLink } from './nats-link.js';

/** Re-check delays while the server has not yet dropped an entry we expect gone. */
const EXPIRY_RECHECK_MS = [25, 50, 100, 250, 500, 1_000];
/** Delay before checking again while the server is unreachable. */
const OFFLINE_RECHECK_MS = 1_000;
/** How long re-creating the consumer may keep failing while connected before the watch fails. */
const RESUME_GIVE_UP_MS = 10_000;
const RESUME_RETRY_MS = 250;

/** What a watch needs from its bucket. */
export interface WatchedStream {
  readonly name: string;
  readonly kv: KV;
  readonly link: NatsLink;
  readonly ttlMs: number;
  /** Creates the bucket's stream again after it vanished. */
  ensureStream(): Promise<void>;
  /** When the stream was created (its identity across server restarts) and its highest revision ever. */
  streamState(): Promise<{ created: string; lastSequence: number }>;
}

interface Reported {
  revision: number;
  timer?: NodeJS.Timeout;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * One KeyValueBucket.watch over JetStream: an ordered consumer (last value per key, then live
 * changes) plus what JetStream does not give.
 *
 * Expiry: JetStream (before 2.11) writes nothing when max_age drops a message, so a consumer
 * never hears of it. The watch keeps a timer per key it reported, due one TTL after the put's
 * server timestamp; when it fires it asks the server (direct get) and reports 'delete' once the
 * server no longer holds that revision, re-asking shortly if the server has not dropped it yet.
 * The server stays the authority: client clock skew can delay an expiry event, never invent one.
 *
 * Reconnect: after the client reconnects the watch re-creates its consumer from the revision
 * after the last one it saw, so a restarted server (which may have lost the ephemeral consumer)
 * costs a round trip instead of the consumer's idle-heartbeat timeout; revisions already seen
 * are skipped, so nothing is reported twice. If the server came back without the bucket, or with
 * a younger one (its store was lost), the watch recreates the bucket if needed, reports every key
 * it had reported as deleted (marked `lost`) and replays the bucket from scratch.
 */
export class NatsKeyValueWatch {
  readonly events: AsyncQueue<KeyValueWatchEvent>;
  private readonly reported = new Map<string, Reported>();
  private lastRevision = 0;
  private streamCreated: string | undefined;
  private consumer: QueuedIterator<KvEntry> | undefined;
  private stopped = false;
  private readonly stopFn = (): void => this.stop();
  private readonly offReconnect: () => void;

  private readonly kv: KV;
  private readonly link: NatsLink;
  private readonly ttlMs: number;

  constructor(
    private readonly bucket: WatchedStream,
    private readonly registry: Set<() => void>,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.kv = bucket.kv;
    this.link = bucket.link;
    this.ttlMs = bucket.ttlMs;
    this.events = new AsyncQueue(this.stopFn);
    this.offReconnect = this.link.onReconnect(() => this.consumer?.stop());
    if (signal?.aborted) {
      this.stop();
      return;
    }
    signal?.addEventListener('abort', this.stopFn, { once: true });
    registry.add(this.stopFn);
    void this.run();
  }

  private async run(): Promise<void> {
    let failingSince: number | undefined;
    while (!this.stopped) {
      if (!(await this.link.waitOnline(Number.POSITIVE_INFINITY)) || this.stopped) break;
      let consumer: QueuedIterator<KvEntry>;
      try {
        await this.checkStreamContinuity();
        consumer = await this.kv.watch({ key: '>', ...(this.lastRevision > 0 ? { resumeFromRevision: this.lastRevision + 1 } : {}) });
      } catch (err) {
        if (this.stopped || this.link.closed) break;
        failingSince ??= Date.now();
        if (Date.now() - failingSince > RESUME_GIVE_UP_MS) {
          this.events.fail(toBusError(err, `$KV.${this.bucket.name}.>`));
          break;
        }
        if (isMissingStream(err)) await this.bucket.ensureStream().catch(() => undefined);
        await sleep(RESUME_RETRY_MS);
        continue;
      }
      failingSince = undefined;
      if (this.stopped) {
        consumer.stop();
        break;
      }
      this.consumer = consumer;
      try {
        for await (const e of consumer) {
          if (this.stopped) break;
          if (e.revision <= this.lastRevision) continue;
          this.lastRevision = e.revision;
          if (e.operation === 'PUT') this.onPut(e);
          else this.reportDelete(e.key);
        }
      } catch {
        // The consumer failed (e.g. lost heartbeats); the loop re-creates it.
      }
      this.consumer = undefined;
      if (this.link.closed) break;
      if (!this.stopped) await sleep(RESUME_RETRY_MS / 5);
    }
    this.stop();
  }

  /** A stream created anew (or younger than what this watch saw) replaced a lost one: start over from nothing. */
  private async checkStreamContinuity(): Promise<void> {
    const { created, lastSequence } = await this.bucket.streamState();
    const replaced = this.streamCreated !== undefined && (created !== this.streamCreated || lastSequence < this.lastRevision);
    this.streamCreated = created;
    if (!replaced) return;
    for (const key of [...this.reported.keys()]) this.reportDelete(key, true);
    this.lastRevision = 0;
  }

  private onPut(e: KvEntry): void {
    const previous = this.reported.get(e.key);
    if (previous) clearTimeout(previous.timer);
    // Age from the server's timestamp, clamped so a skewed client clock can neither stretch the
    // wait beyond one TTL nor make it negative.
    const age = Math.min(Math.max(Date.now() - e.created.getTime(), 0), this.ttlMs);
    const slot: Reported = { revision: e.revision };
    this.reported.set(e.key, slot);
    this.scheduleCheck(e.key, slot, this.ttlMs - age, 0);
    this.events.push({ op: 'put', key: e.key, value: e.value.slice() });
  }

  private scheduleCheck(key: string, slot: Reported, delayMs: number, attempt: number): void {
    slot.timer = setTimeout(() => void this.checkExpired(key, slot, attempt), Math.max(0, delayMs));
    slot.timer.unref();
  }

  private async checkExpired(key: string, slot: Reported, attempt: number): Promise<void> {
    if (this.stopped || this.reported.get(key) !== slot) return;
    let current: KvEntry | null;
    try {
      if (!this.link.online) throw new Error('offline');
      current = await this.kv.get(key);
    } catch {
      if (this.reported.get(key) === slot) this.scheduleCheck(key, slot, OFFLINE_RECHECK_MS, attempt);
      return;
    }
    if (this.stopped || this.reported.get(key) !== slot) return;
    if (!current || current.operation !== 'PUT') this.reportDelete(key);
    else if (current.revision === slot.revision) {
      this.scheduleCheck(key, slot, EXPIRY_RECHECK_MS[Math.min(attempt, EXPIRY_RECHECK_MS.length - 1)]!, attempt + 1);
    }
    // A newer revision: its put is on its way through the consumer and re-arms the check.
  }

  private reportDelete(key: string, lost = false): void {
    const slot = this.reported.get(key);
    // Delete markers of keys this watch never reported (replayed history) mean nothing to it.
    if (!slot) return;
    clearTimeout(slot.timer);
    this.reported.delete(key);
    this.events.push(lost ? { op: 'delete', key, lost: true } : { op: 'delete', key });
  }

  private stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.offReconnect();
    this.registry.delete(this.stopFn);
    this.signal?.removeEventListener('abort', this.stopFn);
    this.consumer?.stop();
    for (const slot of this.reported.values()) clearTimeout(slot.timer);
    this.reported.clear();
    this.events.close();
  }
}
