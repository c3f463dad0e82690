import { describe, expect, it } from 'vitest';
import { LeaseTable } from './leases.js';

describe('LeaseTable (KV blocks reserved for a remote prefill)', () => {
  it('gives the blocks back when the lease expires untaken (the prefill worker died)', async () => {
    const released: number[][] = [];
    const t = new LeaseTable((b) => released.push(b));
    const id = t.create('r1', [4, 5, 6], 50);
    expect(t.size).toBe(1);
    await new Promise((r) => setTimeout(r, 120));
    expect(released).toEqual([[4, 5, 6]]);
    expect(t.take(id)).toBeUndefined();
  });

  it('hands the blocks to the decoding sequence exactly once; a taken lease never expires', async () => {
    const released: number[][] = [];
    const t = new LeaseTable((b) => released.push(b));
    const id = t.create('r2', [1, 2], 50);
    expect(t.take(id)).toEqual({ blocks: [1, 2], requestId: 'r2' });
    expect(t.take(id)).toBeUndefined();
    await new Promise((r) => setTimeout(r, 100));
    expect(released).toEqual([]);
  });

  it('cancel (a failed push) releases at once', () => {
    const released: number[][] = [];
    const t = new LeaseTable((b) => released.push(b));
    const a = t.create('a', [7], 10_000);
    t.create('b', [8], 10_000);
    t.cancel(a);
    expect(released).toEqual([[7]]);
    t.cancelAll();
    expect(released).toEqual([[7], [8]]);
    expect(t.size).toBe(0);
  });
});
