import type { VisionRunner } from '../engine/runner/vision-runner.js';
import type { PromptImage } from '../protocol/prompt-image.js';
import { EncoderCache } from './encoder-cache.js';

/**
 * Gives every image of a request its embeddings: from the encoder cache when this worker has
 * seen the picture (same mm_hash), else by running the vision encoder on its pixels (all misses
 * of a request in one call; each image's rows do not depend on its batch-mates).
 */
export class ImageEncoder {
  readonly cache: EncoderCache;

  constructor(private readonly vision: VisionRunner, cacheBytes?: number) {
    this.cache = new EncoderCache(cacheBytes);
  }

  /** Width of an embedding row (the text model's hidden size). */
  get hiddenSize(): number {
    return this.vision.weights.config.text.hiddenSize;
  }

  /** Fills `embeddings` of each image in place; resolves to how many came from the cache. */
  async resolve(images: PromptImage[]): Promise<{ hits: number; encoded: number }> {
    const missing: PromptImage[] = [];
    for (const img of images) {
      if (img.embeddings) continue;
      const cached = this.cache.get(img.mmHash);
      if (cached) img.embeddings = cached;
      else missing.push(img);
    }
    if (missing.length === 0) return { hits: images.length, encoded: 0 };
    for (const img of missing) {
      if (!img.pixels) throw new Error(`image ${img.mmHash.slice(0, 12)} is neither cached here nor sent with its pixels`);
    }
    const inputs = missing.map((i) => ({ pixels: i.pixels!, grid: i.grid }));
    const out = await this.vision.encodeImages(inputs);
    const counts = this.vision.tokenCounts(inputs);
    const hidden = this.vision.weights.config.text.hiddenSize;
    let row = 0;
    missing.forEach((img, k) => {
      const n = counts[k]!;
      if (n !== img.tokenCount) throw new Error(`image ${img.mmHash.slice(0, 12)}: the encoder made ${n} tokens, the prompt holds ${img.tokenCount}`);
      img.embeddings = out.slice(row * hidden, (row + n) * hidden);
      this.cache.put(img.mmHash, img.embeddings);
      row += n;
    });
    return { hits: images.length - missing.length, encoded: missing.length };
  }
}
