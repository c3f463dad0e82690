import type { BlockEvent } from '../../protocol/block-events.js';
import { hashBlockTokens } from '../../protocol/block-hash.js';

export type { BlockEvent } from '../../protocol/block-events.js';

export interface BlockPoolOptions {
  numBlocks: number;
  blockSize: number;
  /** Default true. When false nothing is ever cached and no events are emitted. */
  enablePrefixCaching?: boolean;
  /** Called synchronously, after the pool's state is updated, for every stored / removed / cleared. */
  onEvent?: (e: BlockEvent) => void;
}

/** Where a block is: exactly one of these at any time. */
export type BlockState = 'free' | 'evictable' | 'referenced';

const FREE = 0;
const EVICTABLE = 1;
const REFERENCED = 2;
const STATE_NAMES: readonly BlockState[] = ['free', 'evictable', 'referenced'];

/**
 * The KV block pool of one worker, with prefix caching over chained block hashes.
 *
 * Every block is in exactly one state:
 * - free: never used or holding nothing reusable (no hash); on the free stack, lowest ids first
 *   in a fresh pool so early allocations are contiguous;
 * - referenced: refcount >= 1 (owned by one or more sequences); may or may not be cached;
 * - evictable: refcount 0 but cached (has a hash); on an LRU list, least recently freed first.
 *
 * `allocate` takes free blocks first and only then evicts from the LRU head. A cached block is
 * reused by `acquire`-ing the ids `findCachedPrefix` returned (which pulls it off the LRU list).
 * All operations are O(blocks touched); nothing scans the pool.
 */
export class BlockPool {
  readonly numBlocks: number;
  readonly blockSize: number;
  readonly enablePrefixCaching: boolean;
  private readonly onEvent: ((e: BlockEvent) => void) | undefined;

  private readonly refs: Int32Array;
  private readonly state: Uint8Array;
  private readonly hashes: (string | null)[];
  private readonly byHash = new Map<string, number>();
  /** Stack of free block ids; the next one handed out is at the end. */
  private readonly free: number[] = [];
  /** Doubly linked LRU list of evictable blocks; index `numBlocks` is the sentinel. */
  private readonly prev: Int32Array;
  private readonly next: Int32Array;
  private lruSize = 0;
  private referencedCount = 0;

  private queriedTokens = 0;
  private hitTokens = 0;
  private evictions = 0;

  constructor(opts: BlockPoolOptions) {
    if (!Number.isInteger(opts.numBlocks) || opts.numBlocks <= 0) throw new RangeError(`numBlocks must be a positive integer, got ${opts.numBlocks}`);
    if (!Number.isInteger(opts.blockSize) || opts.blockSize <= 0) throw new RangeError(`blockSize must be a positive integer, got ${opts.blockSize}`);
    this.numBlocks = opts.numBlocks;
    this.blockSize = opts.blockSize;
    this.enablePrefixCaching = opts.enablePrefixCaching ?? true;
    this.onEvent = opts.onEvent;
    this.refs = new Int32Array(opts.numBlocks);
    this.state = new Uint8Array(opts.numBlocks); // all FREE
    this.hashes = new Array<string | null>(opts.numBlocks).fill(null);
    for (let i = opts.numBlocks - 1; i >= 0; i--) this.free.push(i);
    this.prev = new Int32Array(opts.numBlocks + 1);
    this.next = new Int32Array(opts.numBlocks + 1);
    const s = opts.numBlocks;
    this.prev[s] = s;
    this.next[s] = s;
  }

  /** Blocks that can be handed out now: free blocks + cached blocks nobody references (evictable). */
  get numFreeBlocks(): number {
    return this.free.length + this.lruSize;
  }

  /** Cached blocks (referenced or evictable). */
  get numCachedBlocks(): number {
    return this.byHash.size;
  }

  /** Cached blocks nobody references (the eviction candidates). */
  get numEvictableBlocks(): number {
    return this.lruSize;
  }

  /** Fraction of blocks referenced by at least one sequence (0..1). */
  usage(): number {
    return this.referencedCount / this.numBlocks;
  }

  /** Current refcount of a block. */
  refCount(blockId: number): number {
    this.checkId(blockId, 'inspect');
    return this.refs[blockId]!;
  }

  /** The hash a block is cached under, or null. */
  blockHash(blockId: number): string | null {
    this.checkId(blockId, 'inspect');
    return this.hashes[blockId]!;
  }

  blockState(blockId: number): BlockState {
    this.checkId(blockId, 'inspect');
    return STATE_NAMES[this.state[blockId]!]!;
  }

  /** Hash of a full block's content given its parent (pure; the function `markFull` uses). */
  hashBlock(parentHash: string | null, tokenIds: ArrayLike<number>, cacheSalt?: string): string {
    return hashBlockTokens(parentHash, tokenIds, 0, tokenIds.length, cacheSalt);
  }

  /**
   * Longest run of cached full blocks matching the start of `tokenIds` (at most `maxBlocks`;
   * zero or less means none), stopping at the first miss. Takes no references. With `countStats`, counts one prefix-cache
   * query (queried tokens = tokenIds.length, hit tokens = matched blocks * blockSize).
   */
  findCachedPrefix(
    tokenIds: ArrayLike<number>,
    opts: { cacheSalt?: string; maxBlocks?: number; countStats?: boolean } = {},
  ): { blockIds: number[]; hashes: string[] } {
    const maxBlocks = opts.maxBlocks ?? Infinity;
    if (Number.isNaN(maxBlocks)) throw new RangeError('maxBlocks must be a number, got NaN');
    const blockIds: number[] = [];
    const hashes: string[] = [];
    if (this.enablePrefixCaching && this.byHash.size > 0) {
      const limit = Math.min(Math.floor(tokenIds.length / this.blockSize), Math.floor(maxBlocks));
      let parent: string | null = null;
      for (let b = 0; b < limit; b++) {
        const h = hashBlockTokens(parent, tokenIds, b * this.blockSize, this.blockSize, opts.cacheSalt);
        const id = this.byHash.get(h);
        if (id === undefined) break;
        blockIds.push(id);
        hashes.push(h);
        parent = h;
      }
    }
    if (opts.countStats) {
      this.queriedTokens += tokenIds.length;
      this.hitTokens += blockIds.length * this.blockSize;
    }
    return { blockIds, hashes };
  }

  /**
   * Takes a reference on each block (a block listed twice gets two). Only referenced or cached
   * blocks can be acquired; a cached evictable block leaves the LRU list. All-or-nothing: throws
   * before changing anything if one id is invalid.
   */
  acquire(blockIds: readonly number[]): void {
    for (const id of blockIds) {
      this.checkId(id, 'acquire');
      if (this.state[id] === FREE) throw new Error(`cannot acquire KV block ${id}: it is free (neither referenced nor cached)`);
    }
    for (const id of blockIds) {
      if (this.state[id] === EVICTABLE) {
        this.lruRemove(id);
        this.state[id] = REFERENCED;
        this.referencedCount++;
      }
      this.refs[id]!++;
    }
  }

  /**
   * `n` fresh blocks with refcount 1: free blocks first, then least recently freed cached blocks
   * are evicted (one 'removed' event for the call). Returns null, changing nothing, if fewer
   * than `n` blocks can be had.
   */
  allocate(n: number): number[] | null {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`cannot allocate ${n} KV blocks`);
    if (n > this.free.length + this.lruSize) return null;
    const out = new Array<number>(n);
    let removed: string[] | null = null;
    const sentinel = this.numBlocks;
    for (let i = 0; i < n; i++) {
      let id: number;
      if (this.free.length > 0) {
        id = this.free.pop()!;
      } else {
        id = this.next[sentinel]!;
        this.lruRemove(id);
        const h = this.hashes[id]!;
        this.byHash.delete(h);
        this.hashes[id] = null;
        (removed ??= []).push(h);
        this.evictions++;
      }
      this.refs[id] = 1;
      this.state[id] = REFERENCED;
      out[i] = id;
    }
    this.referencedCount += n;
    if (removed !== null) this.emit({ type: 'removed', blockHashes: removed });
    return out;
  }

  /**
   * Drops one reference from each block. A block reaching refcount 0 becomes evictable if it
   * is cached (appended to the LRU tail; the blocks of one call are appended last-block-first so
   * a sequence's tail is evicted before its head), else free. All-or-nothing: throws before
   * changing anything if a block would go below refcount 0.
   */
  release(blockIds: readonly number[]): void {
    for (let i = 0; i < blockIds.length; i++) {
      const id = blockIds[i]!;
      let bad: string | null = null;
      if (!Number.isInteger(id) || id < 0 || id >= this.numBlocks) bad = `cannot release KV block ${id}: no such block (pool has ${this.numBlocks})`;
      else if (this.refs[id]! <= 0) bad = `cannot release KV block ${id}: it is not referenced (${STATE_NAMES[this.state[id]!]})`;
      if (bad !== null) {
        for (let j = 0; j < i; j++) this.refs[blockIds[j]!]!++;
        throw new Error(bad);
      }
      this.refs[id]!--;
    }
    for (let i = blockIds.length - 1; i >= 0; i--) {
      const id = blockIds[i]!;
      if (this.refs[id] !== 0 || this.state[id] !== REFERENCED) continue;
      this.referencedCount--;
      if (this.hashes[id] !== null) {
        this.state[id] = EVICTABLE;
        this.lruAppend(id);
      } else {
        this.state[id] = FREE;
        this.free.push(id);
      }
    }
  }

  /**
   * Block `blockId` (referenced) just became full with `tokenIds` (exactly blockSize ids):
   * computes its chained hash and, unless a block with that hash is already cached (then the
   * existing mapping stays and this block stays uncached), registers it and emits 'stored'.
   * Returns the hash. With prefix caching disabled only the hash is computed.
   */
  markFull(blockId: number, parentHash: string | null, tokenIds: ArrayLike<number>, cacheSalt?: string): string {
    this.checkId(blockId, 'mark full');
    if (this.state[blockId] !== REFERENCED) throw new Error(`cannot mark KV block ${blockId} full: it is not referenced (${STATE_NAMES[this.state[blockId]!]})`);
    if (tokenIds.length !== this.blockSize) {
      throw new RangeError(`cannot mark KV block ${blockId} full with ${tokenIds.length} tokens (block size ${this.blockSize})`);
    }
    const h = hashBlockTokens(parentHash, tokenIds, 0, tokenIds.length, cacheSalt);
    if (!this.enablePrefixCaching) return h;
    const current = this.hashes[blockId]!;
    if (current !== null) {
      if (current === h) return h;
      throw new Error(`KV block ${blockId} is already cached as ${current}, cannot re-mark it as ${h}`);
    }
    if (this.byHash.has(h)) return h;
    this.byHash.set(h, blockId);
    this.hashes[blockId] = h;
    this.emit({ type: 'stored', blockHashes: [h], parentHash, tokenIds: Array.from(tokenIds), blockSize: this.blockSize });
    return h;
  }

  /** Hit-rate stats: tokens queried and found cached, and cached blocks evicted for space. */
  stats(): { queriedTokens: number; hitTokens: number; hitRate: number; evictions: number } {
    return {
      queriedTokens: this.queriedTokens,
      hitTokens: this.hitTokens,
      hitRate: this.queriedTokens > 0 ? this.hitTokens / this.queriedTokens : 0,
      evictions: this.evictions,
    };
  }

  /**
   * Drops the prefix cache: every evictable block becomes free, and blocks still referenced
   * lose their hash (their owners keep using them; they become free on release), so after the
   * 'cleared' event the pool caches nothing, exactly what the router's index is told. Emits
   * 'cleared' only if something was cached. Not counted as evictions.
   */
  reset(): void {
    if (this.byHash.size === 0) return;
    const sentinel = this.numBlocks;
    while (this.lruSize > 0) {
      const id = this.next[sentinel]!;
      this.lruRemove(id);
      this.state[id] = FREE;
      this.free.push(id);
    }
    for (const id of this.byHash.values()) this.hashes[id] = null;
    this.byHash.clear();
    this.free.sort((a, b) => b - a); // lowest ids handed out first again
    this.emit({ type: 'cleared' });
  }

  private emit(e: BlockEvent): void {
    this.onEvent?.(e);
  }

  private checkId(id: number, what: string): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.numBlocks) {
      throw new Error(`cannot ${what} KV block ${id}: no such block (pool has ${this.numBlocks})`);
    }
  }

  private lruAppend(id: number): void {
    const s = this.numBlocks;
    const tail = this.prev[s]!;
    this.next[tail] = id;
    this.prev[id] = tail;
    this.next[id] = s;
    this.prev[s] = id;
    this.lruSize++;
  }

  private lruRemove(id: number): void {
    const p = this.prev[id]!;
    const n = this.next[id]!;
    this.next[p] = n;
    this.prev[n] = p;
    this.lruSize--;
  }
}
