import { randomUUID } from 'node:crypto';
import { DEFAULT_HOLDER_TTL_MS, grantOnce, type ClusterSlots, type ClusterSlotsOptions, type SlotGrant, type SlotRefusal } from './types.js';

/**
 * The shared table behind MemoryClusterSlots: gateways of one process (tests, the in-process
 * cluster) that pass the same table share one bound, as gateways sharing a Redis do.
 */
export class MemorySlotTable {
  /** holder → slot ids. */
  readonly slots = new Map<string, Set<string>>();
  /** holder → liveness expiry (ms). */
  readonly live = new Map<string, number>();
}

export class MemoryClusterSlots implements ClusterSlots {
  readonly limit: number;
  private readonly ttlMs: number;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly table: MemorySlotTable,
    private readonly o: ClusterSlotsOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.limit = o.limit;
    this.ttlMs = o.holderTtlMs ?? DEFAULT_HOLDER_TTL_MS;
    this.refresh();
    this.timer = setInterval(() => this.refresh(), Math.max(10, this.ttlMs / 3));
    this.timer.unref();
  }

  private refresh(): void {
    this.table.live.set(this.o.holder, this.now() + this.ttlMs);
  }

  private sweep(): number {
    let held = 0;
    for (const [holder, ids] of this.table.slots) {
      if (holder !== this.o.holder && (this.table.live.get(holder) ?? 0) < this.now()) {
        this.table.slots.delete(holder);
        this.table.live.delete(holder);
      } else held += ids.size;
    }
    return held;
  }

  async tryAcquire(n: number): Promise<SlotGrant | SlotRefusal> {
    this.refresh();
    const held = this.sweep();
    if (held + n > this.limit) return { granted: false, held };
    const mine = this.table.slots.get(this.o.holder) ?? new Set<string>();
    this.table.slots.set(this.o.holder, mine);
    const ids = Array.from({ length: n }, () => randomUUID());
    for (const id of ids) mine.add(id);
    return grantOnce(() => {
      for (const id of ids) this.table.slots.get(this.o.holder)?.delete(id);
    });
  }

  async held(): Promise<number> {
    return this.sweep();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
  }
}
