import type { Tokenizer } from '../../text/tokenizer.js';
import type { VisionSpec } from '../backend.js';

export const IMAGE_PLACEHOLDER_TOKEN = '<|IMAGE_PLACEHOLDER|>';
const VISION_MODEL_TYPES = new Set(['ernie4_5_vl_moe']);

/**
 * A checkpoint's vision capability from its raw config.json and tokenizer: present for
 * ERNIE-4.5-VL (model_type ernie4_5_vl_moe with an <|IMAGE_PLACEHOLDER|> token), absent for the
 * text models — whose generated tokenizers carry the same special token, so the token alone
 * does not make a model a vision model.
 */
export function visionSpecFromConfig(config: Record<string, unknown>, tokenizer: Tokenizer): VisionSpec | undefined {
  if (!VISION_MODEL_TYPES.has(String(config.model_type))) return undefined;
  const id = tokenizer.specialTokens.get(IMAGE_PLACEHOLDER_TOKEN) ?? tokenizer.pieceToId(IMAGE_PLACEHOLDER_TOKEN) ?? (config.im_patch_id as number | undefined);
  if (typeof id !== 'number') return undefined;
  const vision = (config.vision_config ?? {}) as Record<string, unknown>;
  const preprocess: NonNullable<VisionSpec['preprocess']> = {};
  if (typeof vision.patch_size === 'number') preprocess.patchSize = vision.patch_size;
  if (typeof config.spatial_conv_size === 'number') preprocess.mergeSize = config.spatial_conv_size;
  return { imagePlaceholderId: id, preprocess };
}
