import { mediaError } from './media-error.js';
import { ACCEPTED_MIME_TYPES } from './sniff.js';

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Decodes `data:image/png;base64,....`. The size is checked from the base64 length before
 * decoding, so an oversized payload costs no allocation. Only base64 payloads are accepted:
 * images are binary, and the percent-encoded form is only ever a client mistake.
 */
export function parseImageDataUrl(url: string, maxBytes: number, param?: string): Uint8Array {
  const comma = url.indexOf(',');
  if (!/^data:/i.test(url) || comma < 0) {
    throw mediaError('invalid_image', "The image URL is not a valid data: URL; use 'data:image/png;base64,<base64 bytes>'.", param);
  }
  const header = url.slice(5, comma).split(';').map((s) => s.trim().toLowerCase());
  const mime = header[0] ?? '';
  if (!header.slice(1).includes('base64')) {
    throw mediaError('invalid_image', "The image data: URL must be base64-encoded ('data:image/png;base64,...').", param);
  }
  if (!ACCEPTED_MIME_TYPES.has(mime)) {
    throw mediaError(
      'unsupported_image_format',
      `The image data: URL declares type '${mime || '(none)'}'; send image/png, image/jpeg or image/webp.`,
      param,
    );
  }
  // Line breaks are tolerated (some encoders wrap at 76 columns); anything else must be base64.
  let payload = url.slice(comma + 1);
  if (/\s/.test(payload)) payload = payload.replace(/\s+/g, '');
  const padding = payload.endsWith('==') ? 2 : payload.endsWith('=') ? 1 : 0;
  const size = Math.floor((payload.length * 3) / 4) - padding;
  if (size > maxBytes) {
    throw mediaError('image_too_large', `The image is ${size} bytes; the limit is ${maxBytes} bytes. Send a smaller or more compressed image.`, param);
  }
  if (payload.length % 4 !== 0 || !BASE64.test(payload)) {
    throw mediaError('invalid_image', 'The image data: URL does not contain valid base64.', param);
  }
  if (size <= 0) throw mediaError('invalid_image', 'The image data: URL is empty; it must carry the image bytes.', param);
  return new Uint8Array(Buffer.from(payload, 'base64'));
}
