import { randomUUID } from 'node:crypto';

interface Lease {
  blocks: number[];
  /** The blocks a remote prefill may write (not the shared prefix-cache ones). */
  writable: ReadonlySet<number>;
  requestId: string;
  timer: NodeJS.Timeout;
}

/**
 * KV blocks a decode worker reserved for a remote prefill. A lease that is not taken by a Decode
 * call in time (the prefill worker died or never finished) gives its blocks back.
 */
export class LeaseTable {
  private readonly leases = new Map<string, Lease>();
  /** Leases that ran out before a Decode call took them (their prefill never finished). */
  expired = 0;

  constructor(private readonly release: (blocks: number[]) => void) {}

  get size(): number {
    return this.leases.size;
  }

  /** `writableFrom`: blocks before it hold a cached prefix the prefill must not write. */
  create(requestId: string, blocks: number[], ttlMs: number, writableFrom = 0): string {
    const id = randomUUID();
    const timer = setTimeout(() => this.expire(id), ttlMs);
    timer.unref();
    this.leases.set(id, { blocks, writable: new Set(blocks.slice(writableFrom)), requestId, timer });
    return id;
  }

  /** The blocks a live lease lets its prefill write; undefined once it expired or was taken. */
  writableBlocks(id: string): ReadonlySet<number> | undefined {
    return this.leases.get(id)?.writable;
  }

  /** Hands the blocks to a decoding sequence (which now owns them). */
  take(id: string): { blocks: number[]; requestId: string } | undefined {
    const l = this.leases.get(id);
    if (!l) return undefined;
    clearTimeout(l.timer);
    this.leases.delete(id);
    return { blocks: l.blocks, requestId: l.requestId };
  }

  /** Frees a lease's blocks now (transfer failed, request cancelled). */
  cancel(id: string): void {
    const l = this.take(id);
    if (l) this.release(l.blocks);
  }

  cancelAll(): void {
    for (const id of [...this.leases.keys()]) this.cancel(id);
  }

  private expire(id: string): void {
    if (this.leases.has(id)) this.expired++;
    this.cancel(id);
  }
}
