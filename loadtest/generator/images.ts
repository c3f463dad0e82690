/**
 * Small PNG images as data: URLs for the image share of a workload. Seeded pixel noise, so each
 * image is distinct (no multimodal cache hits) yet reproducible from the dataset seed.
 */
import sharp from 'sharp';
import type { Uniform } from './random.js';

export async function pngDataUrl(u: Uniform, size = 64): Promise<string> {
  const pixels = Buffer.alloc(size * size * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = Math.floor(u() * 256);
  const png = await sharp(pixels, { raw: { width: size, height: size, channels: 3 } }).png().toBuffer();
  return `data:image/png;base64,${png.toString('base64')}`;
}
