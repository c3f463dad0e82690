import { createHash } from 'node:crypto';

/**
 * Identity of an image for the encoder cache and prefix caching: sha256 of the resized RGB
 * pixels and their dimensions. Hashing the pixels the model will see (not the request bytes)
 * makes the same picture sent as PNG or as a re-encoded file hit the same cache entry when it
 * decodes identically, and makes two sizes of one picture distinct. Versioned so a change of
 * preprocessing can never alias old entries.
 */
export function mmHash(rgb: Uint8Array, width: number, height: number): string {
  const header = Buffer.alloc(12);
  header.writeUInt32LE(width, 0);
  header.writeUInt32LE(height, 4);
  header.writeUInt32LE(3, 8);
  return createHash('sha256').update('tandem-mm-v1\0').update(header).update(rgb).digest('hex');
}
