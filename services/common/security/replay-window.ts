import { SEAL_MAX_AGE_MS } from './seal.js';

/**
 * Sealed messages a receiver has already accepted, for as long as they would still open (the
 * seal's freshness window): a captured message published again, unchanged, is refused as a
 * replay instead of being acted on twice (a second KV reservation, say). One per subscription:
 * two subscriptions of one process each see every message once.
 *
 * Ids arrive in roughly the order they were issued, so a FIFO of (expiry, id) evicts them in
 * order. Past `maxEntries` the oldest ids are forgotten early: a flood can reopen the window for
 * its own oldest messages, but never grows memory without bound.
 */
export class ReplayWindow {
  private readonly seen = new Set<string>();
  private readonly order: Array<{ id: string; expiresMs: number }> = [];
  private head = 0;

  constructor(
    private readonly windowMs = 2 * SEAL_MAX_AGE_MS,
    private readonly maxEntries = 200_000,
  ) {}

  /** True the first time `id` is seen within the window; false for a replay. */
  accept(id: string, issuedMs: number, nowMs = Date.now()): boolean {
    this.evict(nowMs);
    if (this.seen.has(id)) return false;
    this.seen.add(id);
    // A seal opens while |now - issued| <= SEAL_MAX_AGE_MS: keep it until it no longer would.
    this.order.push({ id, expiresMs: Math.max(issuedMs, nowMs) + this.windowMs / 2 });
    return true;
  }

  get size(): number {
    return this.seen.size;
  }

  private evict(nowMs: number): void {
    while (this.head < this.order.length && (this.order[this.head]!.expiresMs < nowMs || this.seen.size > this.maxEntries)) {
      this.seen.delete(this.order[this.head]!.id);
      this.head++;
    }
    // Compact the FIFO once its dead front is large.
    if (this.head > 1024 && this.head * 2 > this.order.length) {
      this.order.splice(0, this.head);
      this.head = 0;
    }
  }
}

/**
 * Per key, the newest issue time of an accepted record: a record older than one already seen
 * for its key is a replay (a captured record put back to resurrect a stopped worker, or to
 * roll its load back). Equal times pass: a watcher that restarts sees the current record again.
 * Keys whose newest record is older than the seal window are forgotten (anything older would
 * not open anyway).
 */
export class RecordClock {
  private readonly newest = new Map<string, number>();
  private lastSweepMs = 0;

  constructor(private readonly windowMs = SEAL_MAX_AGE_MS) {}

  accept(key: string, issuedMs: number, nowMs = Date.now()): boolean {
    if (nowMs - this.lastSweepMs > this.windowMs) {
      for (const [k, t] of this.newest) if (nowMs - t > 2 * this.windowMs) this.newest.delete(k);
      this.lastSweepMs = nowMs;
    }
    const prev = this.newest.get(key);
    if (prev !== undefined && issuedMs < prev) return false;
    this.newest.set(key, issuedMs);
    return true;
  }
}
