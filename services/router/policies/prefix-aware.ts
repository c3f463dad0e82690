import type { WorkerRecord } from '../../protocol/registry.js';
import { PrefixIndex } from '../prefix-index.js';
import { LeastLoadPolicy } from './least-load.js';
import type { RoutingPolicy, RoutingRequest } from './policy.js';

/** The worker already holding the longest prefix of the prompt; least load among equals. */
export class PrefixAwarePolicy implements RoutingPolicy {
  readonly name = 'prefix-aware';
  private readonly tieBreak = new LeastLoadPolicy();

  constructor(private readonly index: PrefixIndex) {}

  select(workers: readonly WorkerRecord[], req: RoutingRequest): WorkerRecord | undefined {
    if (workers.length === 0) return undefined;
    const hashes = PrefixIndex.hashesFor(req.promptTokenIds, workers[0]!.layout.blockSize, req.cacheSalt);
    let best = -1;
    let tied: WorkerRecord[] = [];
    for (const w of workers) {
      const o = this.index.overlap(w.id, hashes);
      if (o > best) {
        best = o;
        tied = [w];
      } else if (o === best) tied.push(w);
    }
    return this.tieBreak.select(tied);
  }
}
