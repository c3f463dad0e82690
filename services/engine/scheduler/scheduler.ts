import { cacheableBlocks } from '../../protocol/block-hash.js';
import type { BlockPool } from '../kv/block-pool.js';
import { freezeOutput, type ScheduledChunk, type SchedulerOutput } from './scheduler-output.js';
import { Sequence } from './sequence.js';

export interface SchedulerConfig {
  /** Most sequences running (holding KV) at once. */
  maxNumSeqs: number;
  /** Most tokens computed in one step (prefill chunks + decode tokens). */
  maxBatchTokens: number;
  blockSize: number;
}

/**
 * Continuous batching with chunked prefill and preemption by recompute.
 *
 * Each step: running sequences first (oldest first; one token each when decoding, the next chunk
 * when still prefilling), then waiting ones (oldest first) while the token budget, the sequence cap
 * and free KV blocks allow. When a running sequence needs a block and none is free, the newest
 * running sequence is preempted: its blocks are released (full ones stay in the prefix cache) and
 * it goes back to the head of the waiting queue to be recomputed from its prompt + output so far.
 * Because the forward pass is batch- and chunk-invariant, recomputation yields the same tokens.
 */
export class Scheduler {
  private readonly waiting: Sequence[] = [];
  private readonly running: Sequence[] = [];
  private readonly byId = new Map<string, Sequence>();
  private arrivals = 0;
  private steps = 0;

  constructor(
    private readonly cfg: SchedulerConfig,
    private readonly pool: BlockPool,
  ) {
    if (cfg.maxBatchTokens < 1 || cfg.maxNumSeqs < 1) throw new RangeError('maxBatchTokens and maxNumSeqs must be >= 1');
  }

  get numWaiting(): number {
    return this.waiting.length;
  }

  get numRunning(): number {
    return this.running.length;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  get(id: string): Sequence | undefined {
    return this.byId.get(id);
  }

  /** `resumedOutput`: tokens generated elsewhere before a migration; recomputed like a preempted sequence's. */
  add(id: string, promptTokenIds: readonly number[], cacheSalt?: string, promptCacheKey?: readonly number[], resumedOutput: readonly number[] = []): void {
    if (this.byId.has(id)) throw new Error(`request ${id} is already scheduled`);
    if (promptTokenIds.length === 0) throw new RangeError(`request ${id} has an empty prompt`);
    const seq = new Sequence(id, promptTokenIds, this.arrivals++, cacheSalt, promptCacheKey);
    seq.outputTokenIds.push(...resumedOutput);
    this.byId.set(id, seq);
    this.waiting.push(seq);
  }

  /**
   * Adopts a sequence whose prompt KV was computed elsewhere (disaggregated prefill): `blocks`
   * hold the whole prompt's KV (the caller already owns one reference on each, e.g. from
   * reserveBlocks) and `firstTokenId` was sampled by the prefill worker. It joins the running set
   * and decodes from the next step on.
   */
  addPrefilled(id: string, promptTokenIds: readonly number[], cacheSalt: string | undefined, blocks: number[], firstTokenId: number, promptCacheKey?: readonly number[]): Sequence {
    if (this.byId.has(id)) throw new Error(`request ${id} is already scheduled`);
    const bs = this.cfg.blockSize;
    if (blocks.length < Math.ceil(promptTokenIds.length / bs)) throw new RangeError(`request ${id}: ${blocks.length} blocks cannot hold a ${promptTokenIds.length}-token prompt`);
    const seq = new Sequence(id, promptTokenIds, this.arrivals++, cacheSalt, promptCacheKey);
    seq.blocks = [...blocks];
    seq.numComputed = promptTokenIds.length;
    seq.cachedPromptTokens = 0;
    seq.outputTokenIds.push(firstTokenId);
    seq.status = 'running';
    this.byId.set(id, seq);
    this.running.push(seq);
    this.registerFullBlocks(seq);
    return seq;
  }

  /**
   * Blocks for a prompt that another worker will fill: cached prefix blocks first (referenced),
   * fresh blocks for the rest. Null when the pool cannot supply them now.
   */
  reserveBlocks(promptTokenIds: readonly number[], cacheSalt?: string): { blocks: number[]; cachedTokens: number } | null {
    const bs = this.cfg.blockSize;
    const hit = this.pool.findCachedPrefix(promptTokenIds, { cacheSalt, maxBlocks: cacheableBlocks(promptTokenIds.length, bs), countStats: true });
    if (hit.blockIds.length > 0) this.pool.acquire(hit.blockIds);
    const fresh = this.pool.allocate(Math.ceil(promptTokenIds.length / bs) - hit.blockIds.length);
    if (!fresh) {
      if (hit.blockIds.length > 0) this.pool.release(hit.blockIds);
      return null;
    }
    return { blocks: [...hit.blockIds, ...fresh], cachedTokens: hit.blockIds.length * bs };
  }

  /** Gives reserved blocks back (a lease expired or the transfer failed). */
  releaseReserved(blocks: number[]): void {
    if (blocks.length > 0) this.pool.release(blocks);
  }

  /**
   * Removes a finished sequence but keeps its KV blocks referenced, returning them: the caller
   * (a prefill worker) reads them for the transfer, then calls releaseReserved.
   */
  detach(id: string): number[] {
    const seq = this.byId.get(id);
    if (!seq) return [];
    this.byId.delete(id);
    seq.status = 'finished';
    removeFrom(this.running, seq);
    removeFrom(this.waiting, seq);
    const blocks = seq.blocks;
    seq.blocks = [];
    seq.blockHashes = [];
    seq.numComputed = 0;
    return blocks;
  }

  /** Ends a request (finished or aborted) and releases its KV blocks at once. */
  finish(id: string): void {
    const seq = this.byId.get(id);
    if (!seq) return;
    this.byId.delete(id);
    seq.status = 'finished';
    removeFrom(this.running, seq);
    removeFrom(this.waiting, seq);
    this.releaseBlocks(seq);
  }

  schedule(): SchedulerOutput {
    let budget = this.cfg.maxBatchTokens;
    const chunks: ScheduledChunk[] = [];
    const preempted: string[] = [];
    const failed: Array<{ requestId: string; reason: string }> = [];

    // Running sequences in admission order. Everything after index i is not scheduled yet this
    // step, so a victim taken from the end never has a chunk in `chunks`.
    for (let i = 0; i < this.running.length && budget > 0; ) {
      const seq = this.running[i]!;
      const n = Math.min(seq.length - seq.numComputed, budget);
      if (n <= 0) {
        i++;
        continue;
      }
      let ok = this.reserve(seq, seq.numComputed + n);
      while (!ok && this.running[this.running.length - 1] !== seq) {
        const victim = this.running[this.running.length - 1]!;
        this.preempt(victim);
        preempted.push(victim.id);
        ok = this.reserve(seq, seq.numComputed + n);
      }
      if (!ok) {
        // seq is the newest running sequence: it waits for older ones to finish.
        this.preempt(seq);
        preempted.push(seq.id);
        continue;
      }
      chunks.push(this.chunkFor(seq, n));
      budget -= n;
      i++;
    }

    // Waiting sequences, oldest first (preempted ones were put back at the head).
    while (budget > 0 && this.waiting.length > 0 && this.running.length < this.cfg.maxNumSeqs) {
      const seq = this.waiting[0]!;
      if (seq.numComputed === 0 && seq.blocks.length === 0) this.attachCachedPrefix(seq);
      const n = Math.min(seq.length - seq.numComputed, budget);
      if (!this.reserve(seq, seq.numComputed + n)) {
        this.releaseBlocks(seq);
        if (this.running.length === 0 && chunks.length === 0) {
          // Nothing holds blocks and it still does not fit: it never will.
          this.waiting.shift();
          this.byId.delete(seq.id);
          seq.status = 'finished';
          failed.push({ requestId: seq.id, reason: `needs more KV blocks than the cache has (${this.pool.numBlocks})` });
          continue;
        }
        break; // keep FCFS order; retry when blocks are released
      }
      this.waiting.shift();
      seq.status = 'running';
      this.running.push(seq);
      chunks.push(this.chunkFor(seq, n));
      budget -= n;
    }

    const numScheduledTokens = this.cfg.maxBatchTokens - budget;
    return freezeOutput({ stepId: this.steps++, chunks, preempted, failed, numScheduledTokens });
  }

  /**
   * Applies a step's results: the chunks' tokens now have KV in the cache, and sequences whose
   * chunk reached the end get their sampled token appended. Sequences that finished or were
   * aborted while the step ran are skipped.
   */
  update(out: SchedulerOutput, sampled: ReadonlyMap<string, number>): void {
    for (const c of out.chunks) {
      const seq = this.byId.get(c.requestId);
      if (!seq || seq.status !== 'running' || seq.numComputed !== c.startPos) continue;
      seq.numComputed += c.tokenIds.length;
      this.registerFullBlocks(seq);
      const tok = sampled.get(c.requestId);
      if (c.sampleNext && tok !== undefined) seq.outputTokenIds.push(tok);
    }
  }

  /** Fraction of KV blocks referenced by sequences. */
  kvUsage(): number {
    return this.pool.usage();
  }

  private chunkFor(seq: Sequence, n: number): ScheduledChunk {
    return {
      requestId: seq.id,
      tokenIds: seq.tokens(seq.numComputed, seq.numComputed + n),
      startPos: seq.numComputed,
      blockTable: [...seq.blocks],
      sampleNext: seq.numComputed + n === seq.length,
    };
  }

  /** Makes the sequence's block table cover `positions` positions. False if blocks ran out. */
  private reserve(seq: Sequence, positions: number): boolean {
    const need = Math.ceil(positions / this.cfg.blockSize) - seq.blocks.length;
    if (need <= 0) return true;
    const got = this.pool.allocate(need);
    if (!got) return false;
    seq.blocks.push(...got);
    return true;
  }

  /** Reuses cached full blocks for the longest matching prefix (never the whole prompt: the last token must be computed for logits). */
  private attachCachedPrefix(seq: Sequence): void {
    const bs = this.cfg.blockSize;
    const all = seq.hashTokens(0, seq.length);
    const maxBlocks = cacheableBlocks(all.length, bs);
    const firstTime = seq.cachedPromptTokens < 0;
    const hit = this.pool.findCachedPrefix(all, { cacheSalt: seq.cacheSalt, maxBlocks, countStats: firstTime });
    if (hit.blockIds.length > 0) this.pool.acquire(hit.blockIds);
    seq.blocks = [...hit.blockIds];
    seq.blockHashes = [...hit.hashes];
    seq.numComputed = hit.blockIds.length * bs;
    if (firstTime) seq.cachedPromptTokens = Math.min(seq.numComputed, seq.promptTokenIds.length);
  }

  private registerFullBlocks(seq: Sequence): void {
    const bs = this.cfg.blockSize;
    const full = Math.floor(seq.numComputed / bs);
    while (seq.blockHashes.length < full) {
      const i = seq.blockHashes.length;
      const parent = i === 0 ? null : seq.blockHashes[i - 1]!;
      seq.blockHashes.push(this.pool.markFull(seq.blocks[i]!, parent, seq.hashTokens(i * bs, (i + 1) * bs), seq.cacheSalt));
    }
  }

  private preempt(seq: Sequence): void {
    removeFrom(this.running, seq);
    this.releaseBlocks(seq);
    seq.status = 'waiting';
    seq.preemptions++;
    this.waiting.unshift(seq);
  }

  private releaseBlocks(seq: Sequence): void {
    if (seq.blocks.length > 0) this.pool.release(seq.blocks);
    seq.blocks = [];
    seq.blockHashes = [];
    seq.numComputed = 0;
  }
}

function removeFrom<T>(list: T[], item: T): void {
  const i = list.indexOf(item);
  if (i >= 0) list.splice(i, 1);
}
