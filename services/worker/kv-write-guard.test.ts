import { describe, expect, it } from 'vitest';
import type { KvLayout } from '../../kernels/ts/index.js';
import { kvBlockRanges } from '../engine/kv/kv-block-ranges.js';
import { kvWriteGuard } from './kv-write-guard.js';
import { LeaseTable } from './leases.js';

// 2 layers x (K, V) planes of 10 blocks of 4 slots x 2 heads x 8 dims, bf16: 128-byte blocks.
const layout: KvLayout = { layers: 2, numBlocks: 10, blockSize: 4, kvHeads: 2, headDim: 8, dtype: 'bf16' };
const BLOCK = 128;
const PLANE = 10 * BLOCK;

function setup() {
  const leases = new LeaseTable(() => {});
  const guard = kvWriteGuard(() => layout, (id) => leases.writableBlocks(id));
  return { leases, guard };
}

/** The ranges a prefill worker really sends for src → dst blocks (every layer, K and V), as the receiver sees them. */
function pushRanges(dst: number[], fromBlock: number) {
  const src = dst.map((_, i) => i);
  return kvBlockRanges({ ...layout, numBlocks: 64 }, layout, src, dst, fromBlock).flat().map((r) => ({ offset: r.dstOffset, length: r.length }));
}

describe('kvWriteGuard (a decode worker admits KV puts only under a live lease, into its blocks)', () => {
  it('admits the whole push of a lease, in every layer and plane, coalesced or not', () => {
    const { leases, guard } = setup();
    const id = leases.create('r', [3, 4, 5, 8], 10_000);
    expect(guard(id, pushRanges([3, 4, 5, 8], 0))).toBeUndefined();
    // Coalesced across the three consecutive blocks of one plane.
    expect(guard(id, [{ offset: 3 * PLANE + 3 * BLOCK, length: 3 * BLOCK }])).toBeUndefined();
  });

  it('refuses no lease, an unknown lease, a taken or cancelled one', () => {
    const { leases, guard } = setup();
    const id = leases.create('r', [1], 10_000);
    const r = [{ offset: BLOCK, length: BLOCK }];
    expect(guard(undefined, r)).toMatch(/names no lease/);
    expect(guard('guessed', r)).toMatch(/unknown, expired or already taken/);
    leases.take(id);
    expect(guard(id, r)).toMatch(/unknown, expired or already taken/);
    const other = leases.create('r2', [1], 10_000);
    leases.cancel(other);
    expect(guard(other, r)).toMatch(/unknown, expired/);
  });

  it('refuses a range that reaches one byte into a block the lease does not hold, in any plane', () => {
    const { leases, guard } = setup();
    const id = leases.create('r', [2, 3], 10_000);
    expect(guard(id, [{ offset: 2 * BLOCK, length: 2 * BLOCK + 1 }])).toBe('block 4 is not reserved to that lease');
    expect(guard(id, [{ offset: 2 * BLOCK - 1, length: 2 }])).toBe('block 1 is not reserved to that lease');
    // Block 2 of the last plane is fine, block 0 of it is not.
    expect(guard(id, [{ offset: 3 * PLANE + 2 * BLOCK, length: BLOCK }])).toBeUndefined();
    expect(guard(id, [{ offset: 3 * PLANE, length: BLOCK }])).toBe('block 0 is not reserved to that lease');
  });

  it('keeps the prefix-cache blocks a lease shares with other sequences out of reach', () => {
    const { leases, guard } = setup();
    // Blocks 6 and 7 hold a cached prefix (shared); the prefill writes from block index 2 on.
    const id = leases.create('r', [6, 7, 1, 2], 10_000, 2);
    expect(guard(id, pushRanges([6, 7, 1, 2], 2))).toBeUndefined();
    expect(guard(id, pushRanges([6, 7, 1, 2], 0))).toBe('block 6 is not reserved to that lease');
  });

  it('refuses everything while the worker has no KV layout yet', () => {
    const leases = new LeaseTable(() => {});
    const guard = kvWriteGuard(() => undefined, (id) => leases.writableBlocks(id));
    expect(guard(leases.create('r', [0], 10_000), [{ offset: 0, length: 1 }])).toMatch(/still starting/);
  });
});
