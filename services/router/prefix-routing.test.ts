import { describe, expect, it } from 'vitest';
import { BlockPool } from '../engine/kv/block-pool.js';
import type { BlockEvent } from '../protocol/block-events.js';
import type { WorkerRecord } from '../protocol/registry.js';
import { CostPolicy } from './policies/cost.js';
import { PrefixAwarePolicy } from './policies/prefix-aware.js';
import { PrefixIndex } from './prefix-index.js';

const layout = { layers: 1, numBlocks: 64, blockSize: 4, kvHeads: 1, headDim: 8, dtype: 'bf16' as const };
const w = (id: string, running = 0): WorkerRecord => ({ id, role: 'decode-text', model: 'm', grpc: 'x:1', layout, load: { running, waiting: 0, kvUsage: 0, freeBlocks: 64 }, startedAtMs: 0 });

/** Events a real block pool emits when a sequence's full blocks are registered. */
function eventsFor(tokens: number[]): BlockEvent[] {
  const events: BlockEvent[] = [];
  const pool = new BlockPool({ numBlocks: 64, blockSize: 4, onEvent: (e) => events.push(e) });
  const blocks = pool.allocate(Math.ceil(tokens.length / 4))!;
  let parent: string | null = null;
  for (let i = 0; i + 4 <= tokens.length; i += 4) parent = pool.markFull(blocks[i / 4]!, parent, tokens.slice(i, i + 4));
  return events;
}

describe('prefix index and prefix-aware routing', () => {
  const shared = Array.from({ length: 12 }, (_, i) => 100 + i);
  const index = new PrefixIndex();
  index.apply('d1', eventsFor([...shared, 1, 2, 3, 4]));
  index.apply('d2', eventsFor(shared.slice(0, 4)));

  it('counts the leading blocks each worker holds, from real block-pool events', () => {
    const h = PrefixIndex.hashesFor([...shared, 9, 9, 9, 9, 9], 4);
    expect(index.overlap('d1', h)).toBe(3);
    expect(index.overlap('d2', h)).toBe(1);
    expect(index.overlap('d3', h)).toBe(0);
    expect(index.overlap('d1', PrefixIndex.hashesFor([...shared, 9], 4, 'other-tenant'))).toBe(0);
  });

  it('prefix-aware picks the longest cached prefix; least load among equals', () => {
    const p = new PrefixAwarePolicy(index);
    expect(p.select([w('d2'), w('d1', 5)], { requestId: 'r', promptTokenIds: [...shared, 7] })!.id).toBe('d1');
    expect(p.select([w('d2', 2), w('d3')], { requestId: 'r', promptTokenIds: [50, 51, 52, 53, 54] })!.id).toBe('d3');
  });

  it('the cost policy trades cached tokens against load', () => {
    const c = new CostPolicy(index, 4);
    expect(c.select([w('d1', 1), w('d3')], { requestId: 'r', promptTokenIds: [...shared, 7] })!.id).toBe('d1');
    expect(c.select([w('d1', 10), w('d3')], { requestId: 'r', promptTokenIds: [...shared, 7] })!.id).toBe('d3');
  });

  it('removed and cleared events shrink the index', () => {
    const i2 = new PrefixIndex();
    const ev = eventsFor(shared);
    i2.apply('d', ev);
    const hashes = ev.flatMap((e) => (e.type === 'stored' ? e.blockHashes : []));
    i2.apply('d', [{ type: 'removed', blockHashes: [hashes[1]!] }]);
    expect(i2.overlap('d', PrefixIndex.hashesFor([...shared, 1], 4))).toBe(1);
    i2.apply('d', [{ type: 'cleared' }]);
    expect(i2.overlap('d', PrefixIndex.hashesFor([...shared, 1], 4))).toBe(0);
  });
});
