import { createHash } from 'node:crypto';
import type { PromptImage } from './prompt-image.js';

/**
 * The token stream that prefix-cache block hashes are computed over for a multimodal prompt:
 * the prompt ids, with each image placeholder replaced by a word derived from the image's
 * mm_hash and its index in the image. Every image places the same placeholder id, so without
 * this two different pictures behind the same text would share cached KV. The words have the
 * top bit set (ids of any real vocabulary are far below 2^31), so they never equal a text token;
 * each carries 31 bits of sha256(mm_hash, index), so a block holding k image tokens of two
 * different images collides with probability 2^-31k. Workers (block hashes in KV events) and the
 * router (prefix-aware routing) call this same function.
 */
export function cacheKeyTokens(promptTokenIds: readonly number[], images: readonly Pick<PromptImage, 'mmHash' | 'offset' | 'tokenCount'>[]): number[] {
  const out = [...promptTokenIds];
  for (const img of images) {
    if (img.offset < 0 || img.offset + img.tokenCount > out.length) {
      throw new RangeError(`image ${img.mmHash.slice(0, 12)} spans [${img.offset}, ${img.offset + img.tokenCount}) outside the ${out.length}-token prompt`);
    }
    for (let i = 0; i < img.tokenCount; i++) out[img.offset + i] = imageTokenWord(img.mmHash, i);
  }
  return out;
}

function imageTokenWord(mmHash: string, index: number): number {
  const d = createHash('sha256').update(mmHash).update(':').update(String(index)).digest();
  return (d.readUInt32BE(0) | 0x80000000) >>> 0;
}
