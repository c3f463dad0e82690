import type { WorkerRecord } from '../../protocol/registry.js';
import type { RoutingPolicy } from './policy.js';

/** Fewest queued + running requests; ties broken by KV usage, then id. */
export class LeastLoadPolicy implements RoutingPolicy {
  readonly name = 'least-load';

  select(workers: readonly WorkerRecord[]): WorkerRecord | undefined {
    let best: WorkerRecord | undefined;
    for (const w of workers) {
      if (!best) best = w;
      else {
        const a = w.load.running + w.load.waiting;
        const b = best.load.running + best.load.waiting;
        if (a < b || (a === b && (w.load.kvUsage < best.load.kvUsage || (w.load.kvUsage === best.load.kvUsage && w.id < best.id)))) best = w;
      }
    }
    return best;
  }
}
