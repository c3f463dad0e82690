import sharp from 'sharp';
import { mediaError } from './media-error.js';
import type { MediaOptions } from './options.js';
import { sniffImageFormat, type SupportedFormat } from './sniff.js';
import { ResizeError, smartResize } from './smart-resize.js';

/** An image decoded, converted to RGB and resized to its adaptive resolution. */
export interface ResizedImage {
  format: SupportedFormat;
  /** The size the image declared. */
  sourceWidth: number;
  sourceHeight: number;
  /** The size after adaptive resize: multiples of patch × merge. */
  width: number;
  height: number;
  /** Interleaved RGB bytes, row-major [height, width, 3]. */
  rgb: Uint8Array;
}

// libvips caches decoded tiles across calls; a gateway sees each image once, so the cache only
// holds memory. Concurrency stays at the default: sharp runs on libuv's pool, not the event loop.
sharp.cache(false);

/**
 * Bytes → RGB pixels at the adaptive resolution. The header is read first and the declared
 * canvas checked against maxInputPixels, so a small file declaring a huge canvas (a
 * decompression bomb) is refused before anything is inflated; `limitInputPixels` makes libvips
 * enforce the same bound again while decoding.
 */
export async function decodeAndResize(bytes: Uint8Array, o: MediaOptions, param?: string): Promise<ResizedImage> {
  if (bytes.length === 0) throw mediaError('invalid_image', 'The image is empty (0 bytes).', param);
  if (bytes.length > o.maxEncodedBytes) {
    throw mediaError('image_too_large', `The image is ${bytes.length} bytes; the limit is ${o.maxEncodedBytes} bytes.`, param);
  }
  const sniffed = sniffImageFormat(bytes);
  if (!sniffed.supported) {
    throw sniffed.format === undefined
      ? mediaError('invalid_image', 'The image bytes are not a PNG, JPEG or WebP image (unrecognized or corrupt data).', param)
      : mediaError('unsupported_image_format', `The image is ${sniffed.format.toUpperCase()}; send PNG, JPEG or WebP.`, param);
  }
  const input = { limitInputPixels: o.maxInputPixels, failOn: 'error' as const };

  let width: number | undefined;
  let height: number | undefined;
  try {
    // Header only: nothing is inflated, so the declared size can be judged here with our own
    // message (with the limit on, libvips would refuse it with a generic error).
    ({ width, height } = await sharp(bytes, { ...input, limitInputPixels: false }).metadata());
  } catch {
    throw mediaError('invalid_image', `The ${sniffed.format.toUpperCase()} image is corrupt: its header could not be read.`, param);
  }
  if (!width || !height) throw mediaError('invalid_image', 'The image declares no size (zero width or height).', param);
  if (width * height > o.maxInputPixels) {
    throw mediaError(
      'image_too_large',
      `The image is ${width}x${height} = ${width * height} pixels; the limit is ${o.maxInputPixels} pixels. Downscale it before sending.`,
      param,
    );
  }

  let size: { width: number; height: number };
  try {
    size = smartResize(height, width, { factor: o.patchSize * o.mergeSize, minPixels: o.minPixels, maxPixels: o.maxPixels, maxAspectRatio: o.maxAspectRatio });
  } catch (e) {
    if (e instanceof ResizeError) throw mediaError('invalid_image', `The image cannot be used: ${e.message}.`, param);
    throw e;
  }

  try {
    // Alpha is dropped, not blended (what PIL's convert('RGB') does in the reference);
    // greyscale, palette and CMYK become sRGB. No EXIF auto-rotation, also as the reference.
    const { data, info } = await sharp(bytes, input)
      .removeAlpha()
      .toColourspace('srgb')
      .resize(size.width, size.height, { fit: 'fill', kernel: 'cubic' })
      // 8 bits per sample whatever the source depth (16-bit PNGs exist).
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || info.width !== size.width || info.height !== size.height || data.length !== size.width * size.height * 3) {
      throw new Error(`unexpected decode result ${info.width}x${info.height}x${info.channels}`);
    }
    return { format: sniffed.format, sourceWidth: width, sourceHeight: height, width: size.width, height: size.height, rgb: new Uint8Array(data.buffer, data.byteOffset, data.length) };
  } catch {
    throw mediaError('invalid_image', `The ${sniffed.format.toUpperCase()} image is corrupt or truncated: it could not be decoded.`, param);
  }
}
