/**
 * KV cache events a worker publishes on `tandem.v1.kv.events.<worker>` (DESIGN §6) so the
 * router's prefix index mirrors which chained block hashes the worker holds.
 *
 * - `stored`: blocks became cached. `blockHashes[0]` chains on `parentHash` (null: the first
 *   block of a sequence) and `blockHashes[i]` on `blockHashes[i-1]`; `tokenIds` are the blocks'
 *   tokens concatenated (`blockHashes.length * blockSize` ids).
 * - `removed`: these hashes are no longer cached (evicted).
 * - `cleared`: the worker dropped its whole prefix cache; forget every hash of it.
 */
export type BlockEvent =
  | { type: 'stored'; blockHashes: string[]; parentHash: string | null; tokenIds: number[]; blockSize: number }
  | { type: 'removed'; blockHashes: string[] }
  | { type: 'cleared' };

export type BlockEventSink = (e: BlockEvent) => void;

/**
 * Collects a pool's events between publishes (pass `queue.push` as the pool's `onEvent`) and
 * hands them out in order, coalesced: a `stored` that continues the previous `stored` chain is
 * merged into it, consecutive `removed` are merged, and a `cleared` supersedes everything queued
 * before it. Replaying the drained list gives the same final index as replaying the raw events.
 */
export class BlockEventQueue {
  private events: BlockEvent[] = [];

  get length(): number {
    return this.events.length;
  }

  readonly push = (e: BlockEvent): void => {
    const last = this.events.length > 0 ? this.events[this.events.length - 1]! : undefined;
    switch (e.type) {
      case 'cleared':
        this.events = [{ type: 'cleared' }];
        return;
      case 'removed':
        if (last?.type === 'removed') last.blockHashes.push(...e.blockHashes);
        else this.events.push({ type: 'removed', blockHashes: [...e.blockHashes] });
        return;
      case 'stored':
        if (
          last?.type === 'stored' &&
          last.blockSize === e.blockSize &&
          last.blockHashes.length > 0 &&
          e.parentHash === last.blockHashes[last.blockHashes.length - 1]
        ) {
          last.blockHashes.push(...e.blockHashes);
          last.tokenIds.push(...e.tokenIds);
        } else {
          this.events.push({ type: 'stored', blockHashes: [...e.blockHashes], parentHash: e.parentHash, tokenIds: [...e.tokenIds], blockSize: e.blockSize });
        }
        return;
    }
  };

  /** Returns the queued events (oldest first) and empties the queue. */
  drain(): BlockEvent[] {
    const out = this.events;
    this.events = [];
    return out;
  }
}
