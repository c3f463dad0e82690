import type { WorkerRecord } from '../../protocol/registry.js';
import type { RoutingPolicy } from './policy.js';

/** Cycles through workers in id order (stable across registry refreshes). */
export class RoundRobinPolicy implements RoutingPolicy {
  readonly name = 'round-robin';
  private next = 0;

  select(workers: readonly WorkerRecord[]): WorkerRecord | undefined {
    if (workers.length === 0) return undefined;
    const sorted = [...workers].sort((a, b) => a.id.localeCompare(b.id));
    return sorted[this.next++ % sorted.length];
  }
}
