/**
 * Images for the media and serving tests, generated in-process (no binary fixtures): solid and
 * patterned pictures through sharp, and hand-built PNGs whose header lies about their size.
 */
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';

export type Rgb = [number, number, number];

export async function solidImage(width: number, height: number, rgb: Rgb, format: 'png' | 'jpeg' | 'webp' | 'gif' = 'png'): Promise<Buffer> {
  const s = sharp({ create: { width, height, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } });
  if (format === 'png') return s.png().toBuffer();
  if (format === 'jpeg') return s.jpeg({ quality: 95 }).toBuffer();
  if (format === 'webp') return s.webp({ lossless: true }).toBuffer();
  return s.gif().toBuffer();
}

/** A gradient, so resizing and hashing have something to distinguish. */
export async function gradientImage(width: number, height: number, format: 'png' | 'webp' = 'png'): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = (y * width + x) * 3;
      raw[p] = (x * 255) / Math.max(1, width - 1);
      raw[p + 1] = (y * 255) / Math.max(1, height - 1);
      raw[p + 2] = (x + y) % 256;
    }
  }
  const s = sharp(raw, { raw: { width, height, channels: 3 } });
  return format === 'png' ? s.png().toBuffer() : s.webp({ lossless: true }).toBuffer();
}

function crc32(buf: Buffer): number {
  let c = ~0;
  for (const byte of buf) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/**
 * A decompression bomb in miniature: a valid PNG header declaring `width` × `height` 8-bit grey
 * pixels, followed by a few compressed rows of zeros. A few hundred bytes that would inflate to
 * width × height bytes if a decoder believed the header.
 */
export function pngDeclaring(width: number, height: number, rows = 4): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  const scanlines = Buffer.alloc(Math.min(rows, height) * (width + 1)); // filter byte 0 + zero pixels
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(scanlines)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

export const dataUrl = (bytes: Uint8Array, mime = 'image/png'): string => `data:${mime};base64,${Buffer.from(bytes).toString('base64')}`;
