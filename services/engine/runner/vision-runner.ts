import type { KernelImpl } from '../../../kernels/ts/index.js';
import { NativeVisionModelClass, type NativeVisionModel } from '../../../kernels/ts/vision.js';
import type { ImageGrid, VlModelWeights } from '../vl-model-types.js';
import { nativeVisionSpecFor } from './vl-native-spec.js';

/** One image for the encoder: normalized pixels [channels, h*patch, w*patch] and its patch grid. */
export interface EncoderImage {
  pixels: Float32Array;
  grid: ImageGrid;
}

/**
 * The Prefill-Vision stage: ViT + resampler on the native thread pool. `encodeImages` returns the
 * image tokens for the text model, [Σ h*w/merge², hidden] fp32, images in order; each image's rows
 * are bit-identical whatever other images share the call. Pixels are expected normalized as the
 * reference processor does: RGB scaled to [0, 1], then (x - mean) / std per channel with the
 * OpenAI CLIP mean (0.48145466, 0.4578275, 0.40821073) and std (0.26862954, 0.26130258, 0.27577711).
 */
export class VisionRunner {
  private readonly model: NativeVisionModel;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly weights: VlModelWeights, opts: { isa?: KernelImpl } = {}) {
    this.model = new NativeVisionModelClass(nativeVisionSpecFor(weights, opts.isa));
  }

  /** Rows of the output that belong to each image. */
  tokenCounts(images: readonly EncoderImage[]): number[] {
    const m = this.weights.config.vision.spatialMergeSize;
    return images.map((i) => (i.grid.h / m) * (i.grid.w / m));
  }

  encodeImages(images: readonly EncoderImage[]): Promise<Float32Array> {
    // Serialized: the native model owns one set of activation buffers.
    const run = this.queue.then(() => this.run(images));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async run(images: readonly EncoderImage[]): Promise<Float32Array> {
    const total = images.reduce((n, i) => n + i.pixels.length, 0);
    const pixels = new Float32Array(total);
    let o = 0;
    for (const i of images) {
      pixels.set(i.pixels, o);
      o += i.pixels.length;
    }
    const tokens = this.tokenCounts(images).reduce((a, b) => a + b, 0);
    const out = new Float32Array(tokens * this.weights.config.text.hiddenSize);
    await this.model.encode(pixels, Int32Array.from(images.flatMap((i) => [i.grid.t, i.grid.h, i.grid.w])), out);
    return out;
  }
}
