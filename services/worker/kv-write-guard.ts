import type { KvLayout } from '../../kernels/ts/index.js';
import { forEachKvBlockIn } from '../engine/kv/kv-block-ranges.js';
import type { PutGuard } from '../transfer/transfer-engine.js';

/**
 * The guard on a decode worker's KV pool region: a put lands only when it names a live lease
 * (the grant is the lease id, handed out only in the sealed reserve reply) and every block it
 * touches is one that lease may write — its fresh blocks, not the prefix-cache blocks it shares
 * with other sequences. A prefill worker whose lease ran out (its blocks may already belong to
 * another request) or a peer writing anywhere else is refused before a byte lands.
 */
export function kvWriteGuard(layout: () => KvLayout | undefined, writableBlocks: (leaseId: string) => ReadonlySet<number> | undefined): PutGuard {
  return (grant, ranges) => {
    if (grant === undefined) return 'the put names no lease';
    const allowed = writableBlocks(grant);
    if (!allowed) return 'the lease it names is unknown, expired or already taken';
    const l = layout();
    if (!l) return 'the worker is still starting';
    let outside = -1;
    for (const r of ranges) {
      const ok = forEachKvBlockIn(l, r.offset, r.length, (b) => {
        if (allowed.has(b)) return true;
        outside = b;
        return false;
      });
      if (!ok) return `block ${outside} is not reserved to that lease`;
    }
    return undefined;
  };
}
