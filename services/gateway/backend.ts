import type { RequestStream } from '../engine/loop/engine.js';
import type { EngineRequest } from '../engine/request-types.js';
import type { MediaOptions } from '../media/index.js';
import type { ChatTemplate } from '../text/chat-template.js';
import type { Tokenizer } from '../text/tokenizer.js';
import type { BackendStatsSource } from './metrics.js';

/**
 * What the gateway needs from whatever generates tokens: today the in-process engine (unified
 * mode), later the router over gRPC. Token ids only; text stays in the gateway.
 */
export interface GenerationBackend extends BackendStatsSource {
  generate(req: BackendRequest): RequestStream;
}

/**
 * One image of a request, decoded and preprocessed at the gateway. Its tokens are already in
 * promptTokenIds: `tokenCount` copies of the model's image placeholder id starting at `offset`.
 */
export interface BackendImage {
  /** sha256 hex of the resized pixels + size: the encoder-cache and prefix-cache key. */
  mmHash: string;
  /** Normalized RGB planes, layout [3, grid.h × patch, grid.w × patch]. */
  pixels: Float32Array;
  /** Patch grid (t = 1 for an image). */
  grid: { t: number; h: number; w: number };
  /** Placeholder tokens the image occupies: (grid.h / merge) · (grid.w / merge). */
  tokenCount: number;
  /** Index in promptTokenIds of the image's first placeholder token. */
  offset: number;
}

/** An engine request plus what only the gateway can produce: the request's images, in prompt order. */
export type BackendRequest = EngineRequest & { images?: BackendImage[] };

/** What a served vision-language model needs at the edge to place images in the prompt. */
export interface VisionSpec {
  /** `<|IMAGE_PLACEHOLDER|>`'s id: repeated once per image token. */
  imagePlaceholderId: number;
  /** The model's own preprocessing (patch and merge size, pixel bounds, mean/std), overriding the defaults. */
  preprocess?: Partial<Pick<MediaOptions, 'patchSize' | 'mergeSize' | 'minPixels' | 'maxPixels' | 'imageMean' | 'imageStd'>>;
}

/** The model the gateway serves, with everything needed to turn text into token ids and back. */
export interface ServedModel {
  name: string;
  tokenizer: Tokenizer;
  chatTemplate?: ChatTemplate;
  maxModelLen: number;
  /** The model's vocabulary (embedding rows); token-id prompts must stay below it. */
  vocabSize: number;
  eosTokenIds: number[];
  /** Unix seconds, for /v1/models. */
  created: number;
  /** Present only for models that take images (ernie4_5_vl_moe); image requests to others get a 400. */
  vision?: VisionSpec;
}
