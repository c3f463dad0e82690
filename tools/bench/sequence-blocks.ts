import type { BlockAllocator } from './block-allocator.js';

/** A sequence's block table: grows block by block as its context grows. */
export class SequenceBlocks {
  readonly table: number[];

  /** `shared` are full prefix blocks reused from another sequence (their KV is already written). */
  constructor(private readonly allocator: BlockAllocator, readonly blockSize: number, shared: number[] = []) {
    this.table = [...shared];
  }

  /** Makes room for `length` positions, allocating new blocks as needed. */
  reserve(length: number): void {
    const need = Math.ceil(length / this.blockSize) - this.table.length;
    if (need > 0) this.table.push(...this.allocator.allocate(need));
  }

  /** Frees the blocks this sequence allocated (not the shared prefix ones). */
  release(sharedCount = 0): void {
    this.allocator.release(this.table.splice(sharedCount));
  }
}
