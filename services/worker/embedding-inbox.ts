import { randomUUID } from 'node:crypto';
import type { PutGuard } from '../transfer/transfer-engine.js';

interface Slot {
  mmHash: string;
  offset: number;
  bytes: number;
}

interface InboxLease {
  slots: Slot[];
  timer: NodeJS.Timeout;
}

/**
 * Where a Prefill-Vision worker writes image embeddings for this worker: one registered region
 * carved into per-image slots, reserved under a lease (emb.reserve) so a vision worker that dies
 * or a request that never arrives cannot hold space forever. First-fit over a sorted free list;
 * slots are 64-byte aligned.
 */
export class EmbeddingInbox {
  private free: Array<{ offset: number; bytes: number }>;
  private readonly leases = new Map<string, InboxLease>();

  constructor(readonly buffer: ArrayBuffer) {
    this.free = [{ offset: 0, bytes: buffer.byteLength }];
  }

  /** Slots for the given images, or null when they do not fit now. */
  reserve(images: ReadonlyArray<{ mmHash: string; bytes: number }>, leaseMs: number): { leaseId: string; slots: Slot[] } | null {
    const slots: Slot[] = [];
    for (const img of images) {
      const offset = this.allocate(img.bytes);
      if (offset < 0) {
        for (const s of slots) this.release(s);
        return null;
      }
      slots.push({ mmHash: img.mmHash, offset, bytes: img.bytes });
    }
    const leaseId = randomUUID();
    const timer = setTimeout(() => this.cancel(leaseId), leaseMs);
    timer.unref();
    this.leases.set(leaseId, { slots, timer });
    return { leaseId, slots };
  }

  /** The embeddings written into a lease's slots (copied out), freeing the slots; undefined if expired. */
  take(leaseId: string): Array<{ mmHash: string; embeddings: Float32Array }> | undefined {
    const l = this.leases.get(leaseId);
    if (!l) return undefined;
    clearTimeout(l.timer);
    this.leases.delete(leaseId);
    const out = l.slots.map((s) => ({ mmHash: s.mmHash, embeddings: new Float32Array(this.buffer.slice(s.offset, s.offset + s.bytes)) }));
    for (const s of l.slots) this.release(s);
    return out;
  }

  cancel(leaseId: string): void {
    const l = this.leases.get(leaseId);
    if (!l) return;
    clearTimeout(l.timer);
    this.leases.delete(leaseId);
    for (const s of l.slots) this.release(s);
  }

  /**
   * The inbox region's guard: a vision worker's put must name a live lease (the grant) and write
   * only inside that lease's slots, so a stale or foreign writer cannot touch another request's
   * embeddings.
   */
  readonly guard: PutGuard = (grant, ranges) => {
    const l = grant === undefined ? undefined : this.leases.get(grant);
    if (!l) return grant === undefined ? 'the put names no lease' : 'the lease it names is unknown, expired or already taken';
    for (const r of ranges) {
      if (!l.slots.some((s) => r.offset >= s.offset && r.offset + r.length <= s.offset + s.bytes)) {
        return `bytes [${r.offset}, ${r.offset + r.length}) are outside that lease's slots`;
      }
    }
    return undefined;
  };

  get freeBytes(): number {
    return this.free.reduce((n, f) => n + f.bytes, 0);
  }

  private allocate(bytes: number): number {
    const need = Math.ceil(bytes / 64) * 64;
    const i = this.free.findIndex((f) => f.bytes >= need);
    if (i < 0) return -1;
    const f = this.free[i]!;
    const offset = f.offset;
    f.offset += need;
    f.bytes -= need;
    if (f.bytes === 0) this.free.splice(i, 1);
    return offset;
  }

  private release(s: Slot): void {
    const bytes = Math.ceil(s.bytes / 64) * 64;
    this.free.push({ offset: s.offset, bytes });
    this.free.sort((a, b) => a.offset - b.offset);
    // Merge neighbours so large images keep finding room.
    const merged: Array<{ offset: number; bytes: number }> = [];
    for (const f of this.free) {
      const last = merged[merged.length - 1];
      if (last && last.offset + last.bytes === f.offset) last.bytes += f.bytes;
      else merged.push({ ...f });
    }
    this.free = merged;
  }
}
