import { describe, expect, it } from 'vitest';
import { BlockEventQueue, type BlockEvent } from '../../protocol/block-events.js';
import { BLOCK_HASH_HEX_LENGTH, blockHashesOf, hashBlockTokens, isBlockHash } from '../../protocol/block-hash.js';
import { BlockPool, type BlockState } from './block-pool.js';

const seq = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);

function recordingPool(numBlocks: number, blockSize: number, enablePrefixCaching = true): { pool: BlockPool; events: BlockEvent[] } {
  const events: BlockEvent[] = [];
  const pool = new BlockPool({ numBlocks, blockSize, enablePrefixCaching, onEvent: (e) => events.push(e) });
  return { pool, events };
}

/** Allocates blocks for `tokens` and marks every full block, like the scheduler does. Returns block ids and hashes. */
function fill(pool: BlockPool, tokens: number[], cacheSalt?: string): { blocks: number[]; hashes: string[] } {
  const bs = pool.blockSize;
  const blocks = pool.allocate(Math.ceil(tokens.length / bs));
  if (!blocks) throw new Error('pool exhausted in test');
  const hashes: string[] = [];
  for (let b = 0; b < Math.floor(tokens.length / bs); b++) {
    hashes.push(pool.markFull(blocks[b]!, b === 0 ? null : hashes[b - 1]!, tokens.slice(b * bs, (b + 1) * bs), cacheSalt));
  }
  return { blocks, hashes };
}

describe('block hash', () => {
  it('is pinned to known values (cross-process / cross-machine stability)', () => {
    expect(hashBlockTokens(null, [1, 2, 3, 4])).toBe('634ed10a3edc319627a22054b299cf33');
    expect(hashBlockTokens(null, [1, 2, 3, 4], 0, 4, 'salt')).toBe('9d654e804da4afc379c43cb064cfbdcd');
    const first = hashBlockTokens(null, [1, 2, 3, 4]);
    expect(hashBlockTokens(first, [5, 6, 7, 8])).toBe(hashBlockTokens('634ed10a3edc319627a22054b299cf33', Uint32Array.of(5, 6, 7, 8)));
    expect(blockHashesOf(seq(1, 8), 4)).toEqual([first, hashBlockTokens(first, [5, 6, 7, 8])]);
  });

  it('has the documented shape and is insensitive to the container type', () => {
    const h = hashBlockTokens(null, [10, 20, 30]);
    expect(h).toHaveLength(BLOCK_HASH_HEX_LENGTH);
    expect(isBlockHash(h)).toBe(true);
    expect(isBlockHash(h.toUpperCase())).toBe(false);
    expect(hashBlockTokens(null, Int32Array.of(10, 20, 30))).toBe(h);
    expect(hashBlockTokens(null, [0, 10, 20, 30, 40], 1, 3)).toBe(h);
    expect(new BlockPool({ numBlocks: 1, blockSize: 3 }).hashBlock(null, [10, 20, 30])).toBe(h);
  });

  it('chains: same tokens under a different parent hash differently', () => {
    const a = hashBlockTokens(null, [1, 2, 3, 4]);
    const b = hashBlockTokens(null, [9, 9, 9, 9]);
    const tokens = [5, 6, 7, 8];
    const underA = hashBlockTokens(a, tokens);
    expect(underA).not.toBe(hashBlockTokens(b, tokens));
    expect(underA).not.toBe(hashBlockTokens(null, tokens));
    expect(hashBlockTokens(a, tokens)).toBe(underA); // deterministic
  });

  it('mixes cacheSalt into the hash; empty key equals no key', () => {
    const t = [1, 2, 3, 4];
    const plain = hashBlockTokens(null, t);
    expect(hashBlockTokens(null, t, 0, 4, '')).toBe(plain);
    const s1 = hashBlockTokens(null, t, 0, 4, 'tenant-a');
    const s2 = hashBlockTokens(null, t, 0, 4, 'tenant-b');
    expect(new Set([plain, s1, s2]).size).toBe(3);
    // Multi-byte UTF-8 keys, and keys that differ only in trailing zero bytes / padding.
    expect(hashBlockTokens(null, t, 0, 4, 'é')).not.toBe(hashBlockTokens(null, t, 0, 4, 'e'));
    expect(hashBlockTokens(null, t, 0, 4, 'a')).not.toBe(hashBlockTokens(null, t, 0, 4, 'a\u0000'));
    // The key memo must not leak between keys.
    expect(hashBlockTokens(null, t, 0, 4, 'tenant-a')).toBe(s1);
  });

  it('separates token boundaries and counts', () => {
    const hs = [
      hashBlockTokens(null, []),
      hashBlockTokens(null, [0]),
      hashBlockTokens(null, [0, 0]),
      hashBlockTokens(null, [1, 0]),
      hashBlockTokens(null, [0, 1]),
      hashBlockTokens(null, [0xffffffff]),
    ];
    expect(new Set(hs).size).toBe(hs.length);
  });

  it('rejects bad tokens, parents and ranges', () => {
    expect(() => hashBlockTokens(null, [1, -1])).toThrow(/token id -1/);
    expect(() => hashBlockTokens(null, [1.5])).toThrow(/token id 1.5/);
    expect(() => hashBlockTokens(null, [2 ** 32])).toThrow(RangeError);
    expect(() => hashBlockTokens('abc', [1])).toThrow(/parent hash/);
    expect(() => hashBlockTokens('634ED10A3EDC319627A22054B299CF33', [1])).toThrow(/parent hash/);
    expect(() => hashBlockTokens('634ed10a3edc319627a22054b299cf3g', [1])).toThrow(/parent hash/);
    expect(() => hashBlockTokens(null, [1, 2], 1, 2)).toThrow(RangeError);
  });

  it('hashes a 16-token block in well under 10 microseconds', () => {
    const tokens = seq(100_000, 16);
    let h: string | null = null;
    for (let i = 0; i < 2_000; i++) h = hashBlockTokens(h, tokens, 0, 16, 'key');
    const n = 50_000;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) h = hashBlockTokens(h, tokens, 0, 16, 'key');
    const usPerHash = ((performance.now() - t0) * 1000) / n;
    expect(isBlockHash(h)).toBe(true);
    expect(usPerHash).toBeLessThan(10);
  });
});

describe('BlockPool basics', () => {
  it('validates options and starts with every block free, lowest ids first', () => {
    expect(() => new BlockPool({ numBlocks: 0, blockSize: 16 })).toThrow(RangeError);
    expect(() => new BlockPool({ numBlocks: 4, blockSize: 1.5 })).toThrow(RangeError);
    const pool = new BlockPool({ numBlocks: 8, blockSize: 4 });
    expect(pool.enablePrefixCaching).toBe(true);
    expect(pool.numFreeBlocks).toBe(8);
    expect(pool.usage()).toBe(0);
    expect(pool.allocate(3)).toEqual([0, 1, 2]);
    expect(pool.usage()).toBe(3 / 8);
    expect(pool.numFreeBlocks).toBe(5);
    expect(pool.allocate(0)).toEqual([]);
    expect(() => pool.allocate(-1)).toThrow(RangeError);
  });

  it('allocate returns null without side effects when short', () => {
    const { pool, events } = recordingPool(4, 2);
    const a = fill(pool, seq(0, 4)); // 2 cached blocks
    pool.release(a.blocks);
    const b = pool.allocate(1)!;
    expect(pool.numFreeBlocks).toBe(3);
    const before = { states: seq(0, 4).map((i) => [pool.blockState(i), pool.refCount(i), pool.blockHash(i)]), events: events.length, stats: pool.stats() };
    expect(pool.allocate(4)).toBeNull();
    expect(seq(0, 4).map((i) => [pool.blockState(i), pool.refCount(i), pool.blockHash(i)])).toEqual(before.states);
    expect(events).toHaveLength(before.events);
    expect(pool.stats()).toEqual(before.stats);
    expect(pool.numFreeBlocks).toBe(3);
    expect(pool.findCachedPrefix(seq(0, 4)).blockIds).toEqual(a.blocks);
    expect(b).toHaveLength(1);
  });

  it('throws errors naming the block on refcount misuse, changing nothing', () => {
    const pool = new BlockPool({ numBlocks: 4, blockSize: 2 });
    const [x, y] = pool.allocate(2)!;
    expect(() => pool.release([3])).toThrow(/block 3\b.*not referenced/);
    expect(() => pool.acquire([17])).toThrow(/block 17\b.*no such block/);
    expect(() => pool.acquire([-1])).toThrow(/block -1\b/);
    expect(() => pool.acquire([2])).toThrow(/block 2\b.*free/);
    expect(() => pool.release([99])).toThrow(/block 99\b/);
    // All-or-nothing: a bad id anywhere in the list leaves the good ones untouched.
    expect(() => pool.release([x!, y!, 3])).toThrow(/block 3\b/);
    expect(pool.refCount(x!)).toBe(1);
    expect(pool.refCount(y!)).toBe(1);
    expect(() => pool.release([x!, x!])).toThrow(new RegExp(`block ${x}\\b`));
    expect(pool.refCount(x!)).toBe(1);
    expect(() => pool.acquire([x!, 3])).toThrow(/block 3\b/);
    expect(pool.refCount(x!)).toBe(1);
    pool.release([x!]);
    expect(() => pool.release([x!])).toThrow(new RegExp(`block ${x}\\b`));
    expect(() => pool.markFull(x!, null, [1, 2])).toThrow(new RegExp(`block ${x}\\b.*not referenced`));
    expect(() => pool.markFull(y!, null, [1, 2, 3])).toThrow(RangeError);
    expect(() => pool.refCount(4)).toThrow(/block 4\b/);
  });
});

describe('prefix caching', () => {
  it('registers full blocks and emits stored events with the chain', () => {
    const { pool, events } = recordingPool(8, 4);
    const tokens = seq(1, 10); // 2 full blocks + 2 tokens
    const { blocks, hashes } = fill(pool, tokens);
    expect(blocks).toHaveLength(3);
    expect(hashes).toEqual(blockHashesOf(tokens, 4));
    expect(events).toEqual([
      { type: 'stored', blockHashes: [hashes[0]], parentHash: null, tokenIds: [1, 2, 3, 4], blockSize: 4 },
      { type: 'stored', blockHashes: [hashes[1]], parentHash: hashes[0], tokenIds: [5, 6, 7, 8], blockSize: 4 },
    ]);
    expect(pool.numCachedBlocks).toBe(2);
    expect(pool.blockHash(blocks[0]!)).toBe(hashes[0]);
    expect(pool.blockHash(blocks[2]!)).toBeNull();
    // Re-marking with the same content is idempotent; different content is an error.
    expect(pool.markFull(blocks[0]!, null, [1, 2, 3, 4])).toBe(hashes[0]);
    expect(events).toHaveLength(2);
    expect(() => pool.markFull(blocks[0]!, null, [4, 3, 2, 1])).toThrow(new RegExp(`block ${blocks[0]}\\b.*already cached`));
  });

  it('finds the longest cached chain and stops at the first miss', () => {
    const { pool } = recordingPool(16, 4);
    const a = fill(pool, seq(0, 16)); // 4 cached blocks
    expect(pool.findCachedPrefix(seq(0, 16))).toEqual({ blockIds: a.blocks, hashes: a.hashes });
    // Longer query: only the cached part matches; trailing partial blocks never match.
    expect(pool.findCachedPrefix(seq(0, 23)).blockIds).toEqual(a.blocks);
    expect(pool.findCachedPrefix(seq(0, 15)).blockIds).toEqual(a.blocks.slice(0, 3));
    // Divergence inside block 2: blocks 0-1 match, and block 3 (identical tokens) is not reached.
    const diverged = seq(0, 16);
    diverged[9] = 999;
    expect(pool.findCachedPrefix(diverged).blockIds).toEqual(a.blocks.slice(0, 2));
    // maxBlocks caps the run; zero or negative means none.
    expect(pool.findCachedPrefix(seq(0, 16), { maxBlocks: 3 }).blockIds).toEqual(a.blocks.slice(0, 3));
    expect(pool.findCachedPrefix(seq(0, 16), { maxBlocks: 0 }).blockIds).toEqual([]);
    expect(pool.findCachedPrefix(seq(0, 16), { maxBlocks: -1 }).blockIds).toEqual([]);
    // A different first block means no hit at all (chain), as does a different cacheSalt.
    expect(pool.findCachedPrefix([7, ...seq(1, 15)]).blockIds).toEqual([]);
    expect(pool.findCachedPrefix(seq(0, 16), { cacheSalt: 'img:abc' }).blockIds).toEqual([]);
    // Lookups take no references.
    expect(a.blocks.map((b) => pool.refCount(b))).toEqual([1, 1, 1, 1]);
  });

  it('stops at a hole in the chain left by eviction', () => {
    const { pool } = recordingPool(4, 2);
    const a = fill(pool, seq(0, 8)); // blocks 0..3, all cached
    pool.release(a.blocks); // LRU: 3, 2, 1, 0 (tail evicted first)
    const taken = pool.allocate(1)!; // evicts the last block of the chain
    expect(taken).toEqual([a.blocks[3]]);
    expect(pool.findCachedPrefix(seq(0, 8)).blockIds).toEqual(a.blocks.slice(0, 3));
    pool.release(taken);
    // Now evict the head only: a block behind a hole is unreachable.
    const { pool: p2 } = recordingPool(4, 2);
    const b = fill(p2, seq(0, 8));
    p2.release([b.blocks[0]!]);
    p2.release(b.blocks.slice(1));
    expect(p2.allocate(1)).toEqual([b.blocks[0]]);
    expect(p2.findCachedPrefix(seq(0, 8)).blockIds).toEqual([]);
  });

  it('respects cacheSalt in every block of the chain', () => {
    const { pool } = recordingPool(8, 4);
    const a = fill(pool, seq(0, 8), 'salt-1');
    expect(a.hashes).toEqual(blockHashesOf(seq(0, 8), 4, 'salt-1'));
    expect(pool.findCachedPrefix(seq(0, 8), { cacheSalt: 'salt-1' }).blockIds).toEqual(a.blocks);
    expect(pool.findCachedPrefix(seq(0, 8), { cacheSalt: 'salt-2' }).blockIds).toEqual([]);
    expect(pool.findCachedPrefix(seq(0, 8)).blockIds).toEqual([]);
  });

  it('shares blocks across sequences with refcounts', () => {
    const { pool } = recordingPool(10, 4);
    const prompt = seq(0, 12);
    const a = fill(pool, [...prompt, 100, 101]); // 3 full shared-able blocks + 1 partial
    expect(pool.usage()).toBe(4 / 10);

    const hit = pool.findCachedPrefix([...prompt, 200], { maxBlocks: 3 });
    expect(hit.blockIds).toEqual(a.blocks.slice(0, 3));
    pool.acquire(hit.blockIds);
    const bTail = pool.allocate(1)!;
    expect(hit.blockIds.map((b) => pool.refCount(b))).toEqual([2, 2, 2]);
    expect(pool.usage()).toBe(5 / 10); // shared blocks count once
    expect(pool.numFreeBlocks).toBe(5);

    pool.release(a.blocks);
    expect(hit.blockIds.map((b) => pool.blockState(b))).toEqual(['referenced', 'referenced', 'referenced']);
    expect(pool.blockState(a.blocks[3]!)).toBe('free'); // partial block had no hash
    expect(pool.usage()).toBe(4 / 10);

    pool.release([...hit.blockIds, ...bTail]);
    expect(hit.blockIds.map((b) => pool.blockState(b))).toEqual(['evictable', 'evictable', 'evictable']);
    expect(pool.numEvictableBlocks).toBe(3);
    expect(pool.numFreeBlocks).toBe(10);
    expect(pool.usage()).toBe(0);

    // A third sequence revives the evictable blocks: they leave the LRU list.
    const again = pool.findCachedPrefix(prompt);
    pool.acquire(again.blockIds);
    expect(pool.numEvictableBlocks).toBe(0);
    expect(pool.numFreeBlocks).toBe(7);
    expect(again.blockIds.map((b) => pool.refCount(b))).toEqual([1, 1, 1]);
  });

  it('acquiring the same cached block twice in one call takes two references', () => {
    const pool = new BlockPool({ numBlocks: 2, blockSize: 2 });
    const a = fill(pool, [1, 2]);
    pool.release(a.blocks);
    pool.acquire([a.blocks[0]!, a.blocks[0]!]);
    expect(pool.refCount(a.blocks[0]!)).toBe(2);
    pool.release([a.blocks[0]!, a.blocks[0]!]);
    expect(pool.blockState(a.blocks[0]!)).toBe('evictable');
  });

  it('evicts least recently freed first, a sequence tail before its head, and emits removed', () => {
    const { pool, events } = recordingPool(6, 2);
    const a = fill(pool, seq(0, 6)); // blocks 0,1,2
    const b = fill(pool, seq(100, 6)); // blocks 3,4,5
    expect(pool.allocate(1)).toBeNull();
    pool.release(a.blocks); // LRU: a2 a1 a0
    pool.release(b.blocks); // LRU: a2 a1 a0 b2 b1 b0
    events.length = 0;

    expect(pool.allocate(2)).toEqual([a.blocks[2], a.blocks[1]]);
    expect(events).toEqual([{ type: 'removed', blockHashes: [a.hashes[2], a.hashes[1]] }]);
    expect(pool.stats().evictions).toBe(2);

    // Touching b's head (re-acquire + release) makes it most recently freed.
    pool.acquire([b.blocks[0]!]);
    pool.release([b.blocks[0]!]); // LRU: a0 b2 b1 b0
    events.length = 0;
    expect(pool.allocate(3)).toEqual([a.blocks[0], b.blocks[2], b.blocks[1]]);
    expect(events).toEqual([{ type: 'removed', blockHashes: [a.hashes[0], b.hashes[2], b.hashes[1]] }]);
    expect(pool.stats().evictions).toBe(5);
    expect(pool.findCachedPrefix(seq(100, 6)).blockIds).toEqual([b.blocks[0]]);
    expect(pool.findCachedPrefix(seq(0, 6)).blockIds).toEqual([]);
  });

  it('prefers never-used and uncached free blocks over evicting cached ones', () => {
    const { pool, events } = recordingPool(6, 2);
    const a = fill(pool, seq(0, 5)); // 2 cached + 1 partial (uncached)
    pool.release(a.blocks);
    expect(pool.numEvictableBlocks).toBe(2);
    const got = pool.allocate(4)!; // 3 never-used + the partial one
    expect(got).toHaveLength(4);
    expect(events.filter((e) => e.type === 'removed')).toEqual([]);
    expect(pool.findCachedPrefix(seq(0, 4)).blockIds).toEqual(a.blocks.slice(0, 2));
    expect(pool.allocate(1)).toEqual([a.blocks[1]]);
  });

  it('keeps the existing mapping for duplicate content', () => {
    const { pool, events } = recordingPool(8, 4);
    const a = fill(pool, seq(0, 8));
    const n = events.length;
    // Another sequence computed the same content into its own blocks (e.g. it raced the first).
    const b = fill(pool, seq(0, 8));
    expect(b.hashes).toEqual(a.hashes);
    expect(events).toHaveLength(n); // nothing new stored
    expect(b.blocks.map((x) => pool.blockHash(x))).toEqual([null, null]);
    expect(pool.findCachedPrefix(seq(0, 8)).blockIds).toEqual(a.blocks);
    pool.release(b.blocks);
    expect(b.blocks.map((x) => pool.blockState(x))).toEqual(['free', 'free']);
    pool.release(a.blocks);
    expect(a.blocks.map((x) => pool.blockState(x))).toEqual(['evictable', 'evictable']);
    expect(pool.numCachedBlocks).toBe(2);
  });

  it('counts hit-rate stats only when asked', () => {
    const pool = new BlockPool({ numBlocks: 8, blockSize: 4 });
    expect(pool.stats()).toEqual({ queriedTokens: 0, hitTokens: 0, hitRate: 0, evictions: 0 });
    fill(pool, seq(0, 8));
    pool.findCachedPrefix(seq(0, 10)); // not counted
    expect(pool.stats().queriedTokens).toBe(0);
    pool.findCachedPrefix(seq(0, 10), { countStats: true }); // 10 queried, 8 hit
    pool.findCachedPrefix(seq(50, 6), { countStats: true }); // 6 queried, 0 hit
    pool.findCachedPrefix(seq(0, 10), { countStats: true, maxBlocks: 1 }); // 10 queried, 4 hit
    expect(pool.stats()).toEqual({ queriedTokens: 26, hitTokens: 12, hitRate: 12 / 26, evictions: 0 });
  });

  it('never caches when prefix caching is disabled', () => {
    const { pool, events } = recordingPool(4, 2, false);
    expect(pool.enablePrefixCaching).toBe(false);
    const a = fill(pool, seq(0, 6));
    expect(a.hashes).toEqual(blockHashesOf(seq(0, 6), 2)); // hashes still computed
    expect(events).toEqual([]);
    expect(pool.numCachedBlocks).toBe(0);
    expect(a.blocks.map((x) => pool.blockHash(x))).toEqual([null, null, null]);
    expect(pool.findCachedPrefix(seq(0, 6), { countStats: true }).blockIds).toEqual([]);
    expect(pool.stats()).toMatchObject({ queriedTokens: 6, hitTokens: 0, hitRate: 0 });
    pool.release(a.blocks);
    expect(a.blocks.map((x) => pool.blockState(x))).toEqual(['free', 'free', 'free']);
    expect(pool.numEvictableBlocks).toBe(0);
    pool.reset();
    expect(events).toEqual([]);
  });

  it('reset drops the whole cache and emits cleared only when something was cached', () => {
    const { pool, events } = recordingPool(8, 2);
    pool.reset();
    expect(events).toEqual([]);
    const a = fill(pool, seq(0, 4));
    const b = fill(pool, seq(10, 4));
    pool.release(a.blocks);
    events.length = 0;
    pool.reset();
    expect(events).toEqual([{ type: 'cleared' }]);
    expect(pool.numCachedBlocks).toBe(0);
    expect(pool.numEvictableBlocks).toBe(0);
    expect(a.blocks.map((x) => pool.blockState(x))).toEqual(['free', 'free']);
    // b's blocks stay referenced but are no longer cached; they become free on release.
    expect(b.blocks.map((x) => [pool.blockState(x), pool.blockHash(x)])).toEqual([['referenced', null], ['referenced', null]]);
    expect(pool.findCachedPrefix(seq(10, 4)).blockIds).toEqual([]);
    expect(pool.stats().evictions).toBe(0);
    const c = pool.allocate(3)!;
    expect(c).toEqual([0, 1, 4]); // free list re-sorted: lowest ids first again
    pool.release(b.blocks);
    expect(b.blocks.map((x) => pool.blockState(x))).toEqual(['free', 'free']);
    pool.release(c);
    expect(pool.numFreeBlocks).toBe(8);
    expect(events).toEqual([{ type: 'cleared' }]);
  });
});

describe('BlockEventQueue', () => {
  it('coalesces chained stored events, consecutive removals, and collapses on cleared', () => {
    const q = new BlockEventQueue();
    const pool = new BlockPool({ numBlocks: 4, blockSize: 2, onEvent: q.push });
    const a = fill(pool, seq(0, 6));
    const drained = q.drain();
    expect(drained).toEqual([{ type: 'stored', blockHashes: a.hashes, parentHash: null, tokenIds: seq(0, 6), blockSize: 2 }]);
    expect(q.length).toBe(0);

    const b = fill(pool, [9, 9]); // new chain: not merged into a's
    pool.release(a.blocks);
    pool.release(b.blocks);
    pool.allocate(1);
    pool.allocate(1);
    expect(q.drain()).toEqual([
      { type: 'stored', blockHashes: b.hashes, parentHash: null, tokenIds: [9, 9], blockSize: 2 },
      { type: 'removed', blockHashes: [a.hashes[2], a.hashes[1]] },
    ]);

    q.push({ type: 'removed', blockHashes: ['x'] });
    q.push({ type: 'cleared' });
    q.push({ type: 'removed', blockHashes: ['y'] });
    expect(q.drain()).toEqual([{ type: 'cleared' }, { type: 'removed', blockHashes: ['y'] }]);
  });

  it('does not alias the caller event arrays', () => {
    const q = new BlockEventQueue();
    const e: BlockEvent = { type: 'stored', blockHashes: ['h1'], parentHash: null, tokenIds: [1], blockSize: 1 };
    q.push(e);
    q.push({ type: 'stored', blockHashes: ['h2'], parentHash: 'h1', tokenIds: [2], blockSize: 1 });
    expect(e).toEqual({ type: 'stored', blockHashes: ['h1'], parentHash: null, tokenIds: [1], blockSize: 1 });
    expect(q.drain()).toEqual([{ type: 'stored', blockHashes: ['h1', 'h2'], parentHash: null, tokenIds: [1, 2], blockSize: 1 }]);
  });
});

// ---------------------------------------------------------------------------------------------
// Randomized comparison against a deliberately naive model (arrays, linear scans).

class ModelPool {
  readonly refs = new Map<number, number>();
  readonly hashOf = new Map<number, string>();
  readonly byHash = new Map<string, number>();
  free: number[] = [];
  lru: number[] = [];
  readonly events: BlockEvent[] = [];
  evictions = 0;

  constructor(readonly numBlocks: number) {
    for (let i = numBlocks - 1; i >= 0; i--) this.free.push(i);
  }

  state(id: number): BlockState {
    if ((this.refs.get(id) ?? 0) > 0) return 'referenced';
    return this.lru.includes(id) ? 'evictable' : 'free';
  }

  allocate(n: number): number[] | null {
    if (n > this.free.length + this.lru.length) return null;
    const out: number[] = [];
    const removed: string[] = [];
    for (let i = 0; i < n; i++) {
      let id: number;
      if (this.free.length > 0) id = this.free.pop()!;
      else {
        id = this.lru.shift()!;
        const h = this.hashOf.get(id)!;
        this.hashOf.delete(id);
        this.byHash.delete(h);
        removed.push(h);
        this.evictions++;
      }
      this.refs.set(id, 1);
      out.push(id);
    }
    if (removed.length > 0) this.events.push({ type: 'removed', blockHashes: removed });
    return out;
  }

  acquire(ids: number[]): void {
    for (const id of ids) {
      this.lru = this.lru.filter((x) => x !== id);
      this.refs.set(id, (this.refs.get(id) ?? 0) + 1);
    }
  }

  release(ids: number[]): void {
    for (const id of ids) this.refs.set(id, this.refs.get(id)! - 1);
    for (const id of [...ids].reverse()) {
      if (this.refs.get(id) !== 0) continue;
      this.refs.delete(id);
      if (this.hashOf.has(id)) this.lru.push(id);
      else this.free.push(id);
    }
  }

  markFull(id: number, parent: string | null, tokens: number[], hash: string): void {
    if (this.hashOf.has(id) || this.byHash.has(hash)) return;
    this.hashOf.set(id, hash);
    this.byHash.set(hash, id);
    this.events.push({ type: 'stored', blockHashes: [hash], parentHash: parent, tokenIds: [...tokens], blockSize: tokens.length });
  }

  find(hashes: string[]): number[] {
    const out: number[] = [];
    for (const h of hashes) {
      const id = this.byHash.get(h);
      if (id === undefined) break;
      out.push(id);
    }
    return out;
  }

  reset(): void {
    if (this.byHash.size === 0) return;
    this.free.push(...this.lru);
    this.lru = [];
    this.free.sort((a, b) => b - a);
    this.hashOf.clear();
    this.byHash.clear();
    this.events.push({ type: 'cleared' });
  }
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface LiveSeq {
  tokens: number[];
  blocks: number[];
  hashes: string[];
  cacheSalt: string | undefined;
}

function checkAgainstModel(pool: BlockPool, model: ModelPool, events: BlockEvent[], live: LiveSeq[]): void {
  const counts = { free: 0, evictable: 0, referenced: 0 };
  const expectedRefs = new Map<number, number>();
  for (const s of live) for (const b of s.blocks) expectedRefs.set(b, (expectedRefs.get(b) ?? 0) + 1);
  const actual: [BlockState, number, string | null][] = [];
  const wanted: [BlockState, number, string | null][] = [];
  for (let id = 0; id < pool.numBlocks; id++) {
    const st = pool.blockState(id);
    counts[st]++;
    actual.push([st, pool.refCount(id), pool.blockHash(id)]);
    wanted.push([model.state(id), model.refs.get(id) ?? 0, model.hashOf.get(id) ?? null]);
    if ((expectedRefs.get(id) ?? 0) !== pool.refCount(id)) throw new Error(`block ${id}: refcount ${pool.refCount(id)} but ${expectedRefs.get(id) ?? 0} owners`);
    if (st === 'evictable' && pool.blockHash(id) === null) throw new Error(`block ${id} is evictable without a hash`);
  }
  expect(actual).toEqual(wanted);
  expect(counts.free + counts.evictable + counts.referenced).toBe(pool.numBlocks);
  expect(pool.numFreeBlocks).toBe(counts.free + counts.evictable);
  expect(pool.numFreeBlocks).toBe(model.free.length + model.lru.length);
  expect(pool.numEvictableBlocks).toBe(counts.evictable);
  expect(pool.usage()).toBe(counts.referenced / pool.numBlocks);
  expect(pool.numCachedBlocks).toBe(model.byHash.size);
  expect(pool.stats().evictions).toBe(model.evictions);
  // Events since the last check (both logs are drained so the comparison stays O(step)).
  expect(events.splice(0)).toEqual(model.events.splice(0));
}

describe('BlockPool randomized vs model', () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`seed ${seed}`, () => {
      const r = rng(seed);
      const bs = [1, 2, 3, 4, 16, 2][seed - 1]!;
      const numBlocks = 8 + Math.floor(r() * 24);
      const caching = seed !== 6;
      const events: BlockEvent[] = [];
      let seenEvents = 0;
      const pool = new BlockPool({ numBlocks, blockSize: bs, enablePrefixCaching: caching, onEvent: (e) => (seenEvents++, events.push(e)) });
      const model = new ModelPool(numBlocks);
      const live: LiveSeq[] = [];
      // A few shared prompt prefixes so lookups hit, diverge and collide.
      const prefixes = [seq(0, 40), seq(0, 20).concat(seq(500, 20)), seq(1000, 40)];
      const keys = [undefined, undefined, 'salt'];

      const markNewFull = (s: LiveSeq): void => {
        while (s.hashes.length < Math.floor(s.tokens.length / bs)) {
          const i = s.hashes.length;
          const parent = i === 0 ? null : s.hashes[i - 1]!;
          const toks = s.tokens.slice(i * bs, (i + 1) * bs);
          const h = pool.markFull(s.blocks[i]!, parent, toks, s.cacheSalt);
          expect(h).toBe(hashBlockTokens(parent, toks, 0, bs, s.cacheSalt));
          if (caching) model.markFull(s.blocks[i]!, parent, toks, h);
          s.hashes.push(h);
        }
      };

      for (let step = 0; step < 1500; step++) {
        const op = r();
        if (op < 0.35) {
          // Admit a new sequence: reuse the cached prefix, allocate the rest.
          const p = prefixes[Math.floor(r() * prefixes.length)]!;
          const len = 1 + Math.floor(r() * p.length);
          const tokens = p.slice(0, len);
          if (r() < 0.3) tokens.push(2000 + Math.floor(r() * 5));
          const cacheSalt = keys[Math.floor(r() * keys.length)];
          const maxBlocks = Math.floor((tokens.length - 1) / bs);
          const hit = pool.findCachedPrefix(tokens, { cacheSalt, maxBlocks, countStats: true });
          const expectedHashes = blockHashesOf(tokens, bs, cacheSalt, maxBlocks);
          expect(hit.hashes).toEqual(expectedHashes.slice(0, hit.hashes.length));
          expect(hit.blockIds).toEqual(caching ? model.find(expectedHashes) : []);
          pool.acquire(hit.blockIds);
          model.acquire(hit.blockIds);
          const need = Math.ceil(tokens.length / bs) - hit.blockIds.length;
          const got = pool.allocate(need);
          expect(got).toEqual(model.allocate(need));
          if (got === null) {
            pool.release(hit.blockIds);
            model.release(hit.blockIds);
          } else {
            const s: LiveSeq = { tokens, blocks: [...hit.blockIds, ...got], hashes: [...hit.hashes], cacheSalt };
            live.push(s);
            markNewFull(s);
          }
        } else if (op < 0.6 && live.length > 0) {
          // Decode a few tokens into a live sequence.
          const s = live[Math.floor(r() * live.length)]!;
          const add = 1 + Math.floor(r() * (2 * bs));
          for (let i = 0; i < add; i++) s.tokens.push(3000 + Math.floor(r() * 3));
          const need = Math.ceil(s.tokens.length / bs) - s.blocks.length;
          const got = need > 0 ? pool.allocate(need) : [];
          expect(got).toEqual(need > 0 ? model.allocate(need) : []);
          if (got === null) {
            s.tokens.length -= add; // preempted instead: drop it below on the next finish
          } else {
            s.blocks.push(...got);
            markNewFull(s);
          }
        } else if (op < 0.9 && live.length > 0) {
          // Finish (or preempt) a sequence.
          const s = live.splice(Math.floor(r() * live.length), 1)[0]!;
          pool.release(s.blocks);
          model.release(s.blocks);
        } else if (op < 0.93) {
          pool.reset();
          model.reset();
          // Live sequences' blocks are no longer cached; re-marking them registers them again.
          for (const s of live) s.hashes.length = 0;
          for (const s of live) markNewFull(s);
        } else if (op < 0.96) {
          // Misuse must throw and change nothing.
          const id = Math.floor(r() * numBlocks);
          if (pool.blockState(id) !== 'referenced') expect(() => pool.release([id])).toThrow(new RegExp(`block ${id}\\b`));
          if (pool.blockState(id) === 'free') expect(() => pool.acquire([id])).toThrow(new RegExp(`block ${id}\\b`));
          expect(() => pool.acquire([numBlocks + id])).toThrow(new RegExp(`block ${numBlocks + id}\\b`));
        } else if (live.length > 0) {
          // A second sequence shares the full blocks of a live one (fork; its tail is its own).
          const s = live[Math.floor(r() * live.length)]!;
          const shared = s.blocks.slice(0, s.hashes.length);
          pool.acquire(shared);
          model.acquire(shared);
          live.push({ tokens: s.tokens.slice(0, shared.length * bs), blocks: shared, hashes: [...s.hashes], cacheSalt: s.cacheSalt });
        }
        checkAgainstModel(pool, model, events, live);
      }
      for (const s of live.splice(0)) {
        pool.release(s.blocks);
        model.release(s.blocks);
      }
      checkAgainstModel(pool, model, events, live);
      expect(pool.usage()).toBe(0);
      expect(pool.numFreeBlocks).toBe(numBlocks);
      const st = pool.stats();
      expect(st.hitRate).toBeGreaterThanOrEqual(0);
      expect(st.hitRate).toBeLessThanOrEqual(1);
      if (caching) expect(st.hitTokens).toBeGreaterThan(0);
      else expect(seenEvents).toBe(0);
    });
  }
});
