import { vlPromptLayout } from '../reference/vl-model.js';
import type { VlModelConfig } from '../vl-model-types.js';
import type { PromptImage } from '../../protocol/prompt-image.js';

/** The extra forward inputs of one chunk of a VL sequence (see NativeVlBatchExtras). */
export interface VlChunkInputs {
  /** Per chunk token: 0 text experts, 1 vision experts. */
  modality: Int32Array;
  /** Per chunk token (t, h, w) RoPE positions, [n * 3]. */
  rope: Int32Array;
  /** Chunk-relative token indices whose embedding is an image row, and those rows [rows, hidden]. */
  embedRows: Int32Array;
  embeds: Float32Array;
}

/**
 * Modality and 3-D RoPE positions of a VL sequence, computed once from the prompt and its images'
 * grids; generated tokens continue the text positions after the prompt (t = h = w). Any span of
 * the sequence, prompt or output, maps to the same inputs every time it is computed (chunked
 * prefill, recompute after preemption, prefill on another worker), which the determinism
 * contract needs.
 */
export class VlSequenceInputs {
  private readonly modality: Int32Array;
  private readonly rope: Int32Array;
  private readonly shift: number;
  private readonly images: readonly PromptImage[];

  constructor(promptTokenIds: readonly number[], images: readonly PromptImage[], config: VlModelConfig, private readonly hidden: number) {
    const sorted = [...images].sort((a, b) => a.offset - b.offset);
    const layout = vlPromptLayout(promptTokenIds, sorted.map((i) => i.grid), config, config.vision.spatialMergeSize);
    for (const img of sorted) {
      for (let i = img.offset; i < img.offset + img.tokenCount; i++) {
        if (promptTokenIds[i] !== config.imageTokenId) throw new RangeError(`image ${img.mmHash.slice(0, 12)}: prompt token ${i} is not an image placeholder`);
      }
    }
    this.modality = Int32Array.from(layout.modality);
    this.rope = Int32Array.from(layout.pos.flat());
    this.shift = layout.nextPos - promptTokenIds.length;
    this.images = sorted;
  }

  /** Whether every image has its embeddings (required before its tokens are computed). */
  get ready(): boolean {
    return this.images.every((i) => i.embeddings !== undefined);
  }

  chunk(startPos: number, n: number): VlChunkInputs {
    const P = this.modality.length;
    const modality = new Int32Array(n);
    const rope = new Int32Array(n * 3);
    const rows: number[] = [];
    const parts: Float32Array[] = [];
    for (let j = 0; j < n; j++) {
      const p = startPos + j;
      if (p < P) {
        modality[j] = this.modality[p]!;
        rope.set(this.rope.subarray(p * 3, p * 3 + 3), j * 3);
      } else rope.fill(p + this.shift, j * 3, j * 3 + 3);
    }
    for (const img of this.images) {
      const from = Math.max(img.offset, startPos);
      const to = Math.min(img.offset + img.tokenCount, startPos + n);
      if (from >= to) continue;
      if (!img.embeddings) throw new Error(`image ${img.mmHash.slice(0, 12)} has no embeddings yet`);
      for (let p = from; p < to; p++) rows.push(p - startPos);
      parts.push(img.embeddings.subarray((from - img.offset) * this.hidden, (to - img.offset) * this.hidden));
    }
    const embeds = new Float32Array(rows.length * this.hidden);
    let o = 0;
    for (const part of parts) {
      embeds.set(part, o);
      o += part.length;
    }
    return { modality, rope, embedRows: Int32Array.from(rows), embeds };
  }
}
