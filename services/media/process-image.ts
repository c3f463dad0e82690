import { parseImageDataUrl } from './data-url.js';
import { decodeAndResize } from './decode.js';
import { fetchRemoteImage } from './fetch-remote.js';
import { mediaError } from './media-error.js';
import { mmHash } from './mm-hash.js';
import { normalizeToPlanes } from './normalize.js';
import type { MediaOptions } from './options.js';

/** One image ready for the vision encoder. Plain data: it crosses process boundaries later. */
export interface ProcessedImage {
  /** sha256 hex of the resized pixels and their size (see mm-hash.ts). */
  mmHash: string;
  /** Normalized RGB planes, layout [3, height, width]. */
  pixels: Float32Array;
  width: number;
  height: number;
  /** Patch grid: t frames (1 for an image) × h × w patches of patchSize pixels. */
  grid: { t: number; h: number; w: number };
  /** Tokens the image occupies in the prompt after the merge × merge adapter: (H/28)·(W/28). */
  tokenCount: number;
  /** What the client sent, for logs and metrics. */
  source: { format: string; width: number; height: number; bytes: number };
}

/** Encoded bytes → ProcessedImage (decode, limits, adaptive resize, normalization, hash). */
export async function processImageBytes(bytes: Uint8Array, o: MediaOptions, param?: string): Promise<ProcessedImage> {
  const img = await decodeAndResize(bytes, o, param);
  const merged = o.patchSize * o.mergeSize;
  return {
    mmHash: mmHash(img.rgb, img.width, img.height),
    pixels: normalizeToPlanes(img.rgb, img.width, img.height, o.imageMean, o.imageStd),
    width: img.width,
    height: img.height,
    grid: { t: 1, h: img.height / o.patchSize, w: img.width / o.patchSize },
    tokenCount: (img.height / merged) * (img.width / merged),
    source: { format: img.format, width: img.sourceWidth, height: img.sourceHeight, bytes: bytes.length },
  };
}

/**
 * An OpenAI `image_url.url` → ProcessedImage: a base64 data: URL, or an http(s) URL when the
 * operator allow-listed its host. `param` names the field in errors.
 */
export async function loadImage(url: string, o: MediaOptions, param?: string): Promise<ProcessedImage> {
  if (/^data:/i.test(url)) return processImageBytes(parseImageDataUrl(url, o.maxEncodedBytes, param), o, param);
  if (/^https?:/i.test(url)) return processImageBytes(await fetchRemoteImage(url, o, param), o, param);
  throw mediaError('invalid_image', "The image URL must be a base64 data: URL ('data:image/png;base64,...') or an http(s) URL.", param);
}
