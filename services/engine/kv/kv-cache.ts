import { kvBytes, native, type KvDtype, type KvLayout } from '../../../kernels/ts/index.js';

/**
 * The paged KV cache of one worker: one native, 64-byte aligned buffer laid out as
 * [layer][k|v][block][slot][kvHead][headDim], so one layer's K (or V) over a run of consecutive
 * blocks is one contiguous byte range (what layer-wise KV transfer pushes).
 */
/** The largest KV pool the kernels allocate themselves (see the constructor). */
export const MAX_NATIVE_KV_BYTES = 2 ** 32;

export class PagedKvCache {
  readonly layout: KvLayout;
  readonly buffer: ArrayBuffer;

  /**
   * `buffer`: memory to use instead of allocating (e.g. a region the transfer engine allocated, so
   * remote prefill workers can write into it directly); it must be 64-byte aligned, zeroed and
   * exactly kvBytes(layout) long.
   */
  constructor(opts: { layers: number; numBlocks: number; blockSize: number; kvHeads: number; headDim: number; dtype: KvDtype }, buffer?: ArrayBuffer) {
    for (const [k, v] of Object.entries(opts)) {
      if (k !== 'dtype' && (!Number.isInteger(v) || (v as number) <= 0)) {
        throw new RangeError(`KV cache ${k} must be a positive integer, got ${String(v)}`);
      }
    }
    if (opts.dtype !== 'bf16' && opts.dtype !== 'fp32') throw new RangeError(`KV cache dtype must be bf16 or fp32, got ${opts.dtype}`);
    this.layout = { ...opts };
    const bytes = kvBytes(this.layout);
    if (buffer && buffer.byteLength !== bytes) throw new RangeError(`KV buffer has ${buffer.byteLength} bytes, the layout needs ${bytes}`);
    // Node 20 wraps native memory of at most 4 GiB in an ArrayBuffer; a larger pool comes from
    // V8's own allocator (zero-filled and page-aligned at this size).
    this.buffer = buffer ?? (bytes > MAX_NATIVE_KV_BYTES ? new ArrayBuffer(bytes) : native.allocKvBuffer(bytes));
  }

  get bytes(): number {
    return this.buffer.byteLength;
  }

  /** Bytes of one block of one layer's K or V plane. */
  get blockBytes(): number {
    const l = this.layout;
    return l.blockSize * l.kvHeads * l.headDim * (l.dtype === 'bf16' ? 2 : 4);
  }
}
