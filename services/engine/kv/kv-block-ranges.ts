import type { KvLayout } from '../../../kernels/ts/index.js';

/** One contiguous byte range to copy from a source KV buffer into a destination KV buffer. */
export interface KvByteRange {
  srcOffset: number;
  dstOffset: number;
  length: number;
}

/** Bytes of one block of one layer's K (or V) plane. */
export function kvBlockBytes(layout: KvLayout): number {
  return layout.blockSize * layout.kvHeads * layout.headDim * (layout.dtype === 'bf16' ? 2 : 4);
}

/**
 * Calls `visit` with the id of every block a byte range of a KV pool laid out as `layout` touches
 * (in any layer's K or V plane; a block id repeats once per plane the range crosses).
 * Stops early, returning false, when `visit` does.
 */
export function forEachKvBlockIn(layout: KvLayout, offset: number, length: number, visit: (blockId: number) => boolean): boolean {
  if (length <= 0) return true;
  const bb = kvBlockBytes(layout);
  // Planes are numBlocks blocks long and follow each other, so a global block index modulo
  // numBlocks is the block id, whichever plane it falls in.
  for (let g = Math.floor(offset / bb), last = Math.floor((offset + length - 1) / bb); g <= last; g++) {
    if (!visit(g % layout.numBlocks)) return false;
  }
  return true;
}

/**
 * The byte ranges that move blocks `src[i]` (in a cache laid out as `srcLayout`) → `dst[i]` (in
 * `dstLayout`) for i >= fromBlock, for every layer's K and V plane
 * ([layer][k|v][block][slot][kvHead][headDim]), ordered layer by layer so a sender can push layer
 * l while later layers still compute. The two caches may hold different numbers of blocks (so
 * their planes start at different offsets); everything else must match. Runs of consecutive
 * block ids on both sides merge into one range.
 */
export function kvBlockRanges(srcLayout: KvLayout, dstLayout: KvLayout, src: readonly number[], dst: readonly number[], fromBlock = 0): KvByteRange[][] {
  if (src.length !== dst.length) throw new RangeError(`block lists differ in length (${src.length} vs ${dst.length})`);
  const perLayer: KvByteRange[][] = [];
  for (let l = 0; l < srcLayout.layers; l++) perLayer.push(kvLayerRanges(srcLayout, dstLayout, src, dst, l, fromBlock, src.length));
  return perLayer;
}

/** One layer's share of kvBlockRanges: blocks i in [fromBlock, toBlock) of layer `layer`, K then V. */
export function kvLayerRanges(
  srcLayout: KvLayout, dstLayout: KvLayout, src: readonly number[], dst: readonly number[], layer: number, fromBlock: number, toBlock: number,
): KvByteRange[] {
  for (const k of ['layers', 'blockSize', 'kvHeads', 'headDim', 'dtype'] as const) {
    if (srcLayout[k] !== dstLayout[k]) throw new RangeError(`KV caches differ in ${k} (${srcLayout[k]} vs ${dstLayout[k]}); blocks cannot be copied between them`);
  }
  if (toBlock > src.length || toBlock > dst.length) throw new RangeError(`block range ends at ${toBlock}, past the block lists (${src.length} / ${dst.length})`);
  if (layer < 0 || layer >= srcLayout.layers) throw new RangeError(`layer ${layer} outside [0, ${srcLayout.layers})`);
  const blockBytes = kvBlockBytes(srcLayout);
  const srcPlane = srcLayout.numBlocks * blockBytes;
  const dstPlane = dstLayout.numBlocks * blockBytes;
  const ranges: KvByteRange[] = [];
  for (let kind = 0; kind < 2; kind++) {
    const plane = layer * 2 + kind;
    for (let i = fromBlock; i < toBlock; i++) {
      const s = plane * srcPlane + src[i]! * blockBytes;
      const d = plane * dstPlane + dst[i]! * blockBytes;
      const last = ranges[ranges.length - 1];
      if (last && last.srcOffset + last.length === s && last.dstOffset + last.length === d) last.length += blockBytes;
      else ranges.push({ srcOffset: s, dstOffset: d, length: blockBytes });
    }
  }
  return ranges;
}
