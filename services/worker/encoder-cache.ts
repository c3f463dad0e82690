/**
 * Image embeddings by mm_hash, least recently used first out, bounded in bytes. A prompt whose
 * images are all here skips the vision encoder (and, in a cluster, the Prefill-Vision stage).
 */
export class EncoderCache {
  private readonly entries = new Map<string, Float32Array>();
  private bytes = 0;
  hits = 0;
  misses = 0;

  constructor(readonly maxBytes = 256 * 1024 * 1024) {}

  get size(): number {
    return this.entries.size;
  }

  has(mmHash: string): boolean {
    return this.entries.has(mmHash);
  }

  /** The embeddings, refreshed as most recently used; counts a hit or a miss. */
  get(mmHash: string): Float32Array | undefined {
    const e = this.entries.get(mmHash);
    if (!e) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.entries.delete(mmHash);
    this.entries.set(mmHash, e);
    return e;
  }

  put(mmHash: string, embeddings: Float32Array): void {
    if (embeddings.byteLength > this.maxBytes) return; // would evict everything and still not fit
    const old = this.entries.get(mmHash);
    if (old) {
      this.bytes -= old.byteLength;
      this.entries.delete(mmHash);
    }
    this.entries.set(mmHash, embeddings);
    this.bytes += embeddings.byteLength;
    for (const [k, v] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(k);
      this.bytes -= v.byteLength;
    }
  }
}
