/** An image's (or video's) grid in patches: t frames of h x w patches. */
export interface ImageGrid {
  t: number;
  h: number;
  w: number;
}

/**
 * An image inside a prompt, as the engine sees it: where its placeholder tokens sit and, once
 * encoded (by this worker, its encoder cache or a Prefill-Vision worker), its embeddings.
 */
export interface PromptImage {
  /** Content hash of the decoded pixels: encoder-cache key and part of the prefix-cache key. */
  mmHash: string;
  /** Index of the image's first placeholder token in the prompt. */
  offset: number;
  /** Placeholder tokens (= embedding rows) of the image. */
  tokenCount: number;
  grid: ImageGrid;
  /** [tokenCount, hidden] fp32; required before a prompt chunk covering the image is computed. */
  embeddings?: Float32Array;
  /** Normalized pixels [3, h*patch, w*patch] for the worker that encodes it (the engine ignores them). */
  pixels?: Float32Array;
}
