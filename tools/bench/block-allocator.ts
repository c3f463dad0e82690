/**
 * Free-list allocator of KV block ids. Lowest ids first, so a fresh cache hands out contiguous
 * runs. A benchmark helper (tandem bench kernels drives the model runner without the engine);
 * the engine itself allocates through its prefix-caching BlockPool.
 */
export class BlockAllocator {
  private readonly free: number[] = [];
  private readonly used = new Set<number>();

  constructor(readonly numBlocks: number) {
    for (let i = numBlocks - 1; i >= 0; i--) this.free.push(i);
  }

  get numFree(): number {
    return this.free.length;
  }

  allocate(n: number): number[] {
    if (n > this.free.length) throw new RangeError(`KV cache exhausted: need ${n} blocks, ${this.free.length} free`);
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const id = this.free.pop()!;
      this.used.add(id);
      out.push(id);
    }
    return out;
  }

  release(ids: Iterable<number>): void {
    for (const id of ids) {
      if (!this.used.delete(id)) throw new Error(`block ${id} is not allocated`);
      this.free.push(id);
    }
    // Keep lowest ids on top of the stack.
    this.free.sort((a, b) => b - a);
  }
}
