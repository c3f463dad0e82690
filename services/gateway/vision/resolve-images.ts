import { apiError } from '../../common/errors/index.js';
import { loadImage, type MediaOptions, type ProcessedImage } from '../../media/index.js';
import type { ServedModel } from '../backend.js';
import type { NormalizedChatRequest } from '../openai/index.js';
import { collectImageRefs } from './image-parts.js';

/**
 * Decodes and checks every image of a chat request, at the edge: this runs before admission
 * and before anything is queued, so a bad image costs the cluster nothing. Undefined when the
 * request has no images. The image count is checked before any decoding or fetching. Images
 * are validated before the model's capability is, so a bad image gets the same precise error
 * whichever model is asked — and a text-only model refuses only images that are otherwise fine.
 */
export async function resolveChatImages(req: NormalizedChatRequest, model: ServedModel, media: MediaOptions): Promise<ProcessedImage[] | undefined> {
  const refs = collectImageRefs(req.messages);
  if (refs.length === 0) return undefined;
  if (refs.length > media.maxImagesPerRequest) {
    throw apiError(
      'too_many_images',
      `The request has ${refs.length} images; this server accepts at most ${media.maxImagesPerRequest} per request. Send fewer images.`,
      'messages',
    );
  }
  // Concurrently: decoding runs on libuv's pool, fetches wait on the network.
  const images = await Promise.all(refs.map((r) => loadImage(r.url, media, r.param)));
  if (!model.vision) {
    throw apiError(
      'model_does_not_support_images',
      `The model '${req.model}' does not accept image input; send text only or use a vision-language model (e.g. ERNIE-4.5-VL).`,
      refs[0]!.param.replace(/\.image_url\.url$/, ''),
    );
  }
  return images;
}
