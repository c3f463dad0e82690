import type { WorkerRecord } from '../../protocol/registry.js';
import { PrefixIndex } from '../prefix-index.js';
import type { RoutingPolicy, RoutingRequest } from './policy.js';

/**
 * Trades prefix reuse against load: cost = tokens to prefill (prompt minus cached prefix)
 * + loadWeight x (queued + running requests) + kvWeight x KV usage. Lowest cost wins, ties by id.
 */
export class CostPolicy implements RoutingPolicy {
  readonly name = 'cost';

  constructor(
    private readonly index: PrefixIndex,
    private readonly loadWeight = 64,
    private readonly kvWeight = 256,
  ) {}

  select(workers: readonly WorkerRecord[], req: RoutingRequest): WorkerRecord | undefined {
    let best: WorkerRecord | undefined;
    let bestCost = Infinity;
    for (const w of workers) {
      const hashes = PrefixIndex.hashesFor(req.promptTokenIds, w.layout.blockSize, req.cacheSalt);
      const cached = this.index.overlap(w.id, hashes) * w.layout.blockSize;
      const cost = req.promptTokenIds.length - cached + this.loadWeight * (w.load.running + w.load.waiting) + this.kvWeight * w.load.kvUsage;
      if (cost < bestCost || (cost === bestCost && best && w.id < best.id)) {
        best = w;
        bestCost = cost;
      }
    }
    return best;
  }
}
