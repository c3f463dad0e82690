import { apiError } from '../../common/errors/index.js';
import type { ProcessedImage } from '../../media/index.js';
import type { Tokenizer } from '../../text/tokenizer.js';
import type { BackendImage } from '../backend.js';

/**
 * What ERNIE-4.5-VL's chat template writes where an image goes, between <|IMAGE_START|> and
 * <|IMAGE_END|>. It is not a token: the processor replaces it by as many
 * <|IMAGE_PLACEHOLDER|> tokens as the image has (after the 2×2 merge).
 */
export const IMAGE_MARKER = '<|image@placeholder|>';

export interface PromptWithImages {
  promptIds: number[];
  images: BackendImage[];
}

/**
 * Rendered chat text + decoded images → prompt token ids with each image's marker expanded to
 * tokenCount placeholder ids, and each image's offset in the prompt. The text between markers
 * is tokenized piece by piece; the markers sit between special tokens, so cutting there changes
 * no token.
 */
export function tokenizeWithImages(text: string, images: readonly ProcessedImage[], tokenizer: Tokenizer, placeholderId: number): PromptWithImages {
  const pieces = text.split(IMAGE_MARKER);
  if (pieces.length - 1 !== images.length) {
    throw apiError(
      'invalid_parameter',
      pieces.length - 1 > images.length
        ? `The messages contain the reserved image marker '${IMAGE_MARKER}' as text; remove it.`
        : `The model's chat template placed ${pieces.length - 1} of the ${images.length} images; it cannot take images in these messages.`,
      'messages',
    );
  }
  const promptIds: number[] = [];
  const out: BackendImage[] = [];
  pieces.forEach((piece, i) => {
    const ids = tokenizer.encode(piece, { addSpecialTokens: false });
    // The placeholder id must mean "an image token" and nothing else: text spelling it out
    // would give the engine an image slot with no pixels behind it.
    if (ids.includes(placeholderId)) {
      throw apiError('invalid_parameter', "The messages contain the reserved image placeholder token as text; remove it.", 'messages');
    }
    for (const id of ids) promptIds.push(id);
    const img = images[i];
    if (img === undefined) return;
    out.push({ mmHash: img.mmHash, pixels: img.pixels, grid: img.grid, tokenCount: img.tokenCount, offset: promptIds.length });
    for (let k = 0; k < img.tokenCount; k++) promptIds.push(placeholderId);
  });
  return { promptIds, images: out };
}
