import type { PromptImage } from '../protocol/prompt-image.js';
import type { ModelCard } from '../protocol/model-card.js';
import type { MediaOptions } from '../media/index.js';
import type { ChatTemplate } from '../text/chat-template.js';
import type { Tokenizer } from '../text/tokenizer.js';

export type { GenerationBackend } from '../protocol/generation-backend.js';

/**
 * One image of a request, decoded and preprocessed at the gateway: a prompt image with its
 * normalized pixels (layout [3, grid.h × patch, grid.w × patch]). Its tokens are already in the
 * prompt: `tokenCount` copies of the model's image placeholder id starting at `offset`.
 */
export type BackendImage = PromptImage & { pixels: Float32Array };

/** What a served vision-language model needs at the edge to place images in the prompt. */
export interface VisionSpec {
  /** `<|IMAGE_PLACEHOLDER|>`'s id: repeated once per image token. */
  imagePlaceholderId: number;
  /** The model's own preprocessing (patch and merge size, pixel bounds, mean/std), overriding the defaults. */
  preprocess?: Partial<Pick<MediaOptions, 'patchSize' | 'mergeSize' | 'minPixels' | 'maxPixels' | 'imageMean' | 'imageStd'>>;
}

/** The model the gateway serves: its card plus what turns text into token ids and back. */
export interface ServedModel extends ModelCard {
  tokenizer: Tokenizer;
  chatTemplate?: ChatTemplate;
  /** Present only for models that take images (ernie4_5_vl_moe); image requests to others get a 400. */
  vision?: VisionSpec;
}
