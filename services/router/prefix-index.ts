import { decodeJson, type Bus, type Subscription } from '../bus/index.js';
import type { BlockEvent } from '../protocol/block-events.js';
import { blockHashesOf, cacheableBlocks } from '../protocol/block-hash.js';

/**
 * Which prefix-cache blocks each decode worker holds, fed by the workers' block events
 * (tandem.v1.kv.events.<worker>). Block hashes are chained (each covers its whole prefix), so a
 * set of hashes per worker answers "how many leading blocks of this prompt does it have" exactly
 * like a radix tree over token blocks would, with one lookup per block.
 */
export class PrefixIndex {
  private readonly byWorker = new Map<string, Set<string>>();
  private sub?: Subscription;

  static start(bus: Bus): PrefixIndex {
    const idx = new PrefixIndex();
    idx.sub = bus.subscribe('tandem.v1.kv.events.*');
    void (async () => {
      for await (const msg of idx.sub!) {
        const { workerId, events } = decodeJson<{ workerId: string; events: BlockEvent[] }>(msg.data);
        idx.apply(workerId, events);
      }
    })().catch(() => undefined);
    return idx;
  }

  apply(workerId: string, events: readonly BlockEvent[]): void {
    let set = this.byWorker.get(workerId);
    if (!set) this.byWorker.set(workerId, (set = new Set()));
    for (const e of events) {
      if (e.type === 'cleared') set.clear();
      else if (e.type === 'stored') for (const h of e.blockHashes) set.add(h);
      else for (const h of e.blockHashes) set.delete(h);
    }
  }

  /** Leading blocks of `hashes` the worker holds. */
  overlap(workerId: string, hashes: readonly string[]): number {
    const set = this.byWorker.get(workerId);
    if (!set) return 0;
    let n = 0;
    while (n < hashes.length && set.has(hashes[n]!)) n++;
    return n;
  }

  static hashesFor(promptTokenIds: readonly number[], blockSize: number, cacheSalt?: string): string[] {
    return blockHashesOf(promptTokenIds, blockSize, cacheSalt, cacheableBlocks(promptTokenIds.length, blockSize));
  }

  forget(workerId: string): void {
    this.byWorker.delete(workerId);
  }

  stop(): void {
    this.sub?.unsubscribe();
  }
}
