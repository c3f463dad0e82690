/**
 * Token ids as stored in Redis: packed uint32, little-endian, 4 bytes per token, one Redis string
 * per sequence (`<prefix>seq:<id>:tokens`). Token i lives at bytes [4i, 4i+4), so the stored count
 * is STRLEN / 4 and appending is APPEND — no per-token keys, no list overhead.
 */

export const BYTES_PER_TOKEN = 4;
/** Token ids are uint32. */
export const MAX_TOKEN_ID = 0xffff_ffff;

export function packTokens(tokens: readonly number[]): Buffer {
  const buf = Buffer.allocUnsafe(tokens.length * BYTES_PER_TOKEN);
  for (let i = 0; i < tokens.length; i++) buf.writeUInt32LE(tokens[i]!, i * BYTES_PER_TOKEN);
  return buf;
}

export function unpackTokens(buf: Buffer): number[] {
  if (buf.length % BYTES_PER_TOKEN !== 0) {
    throw new RangeError(`packed token buffer has ${buf.length} bytes, not a multiple of ${BYTES_PER_TOKEN}`);
  }
  const out = new Array<number>(buf.length / BYTES_PER_TOKEN);
  for (let i = 0; i < out.length; i++) out[i] = buf.readUInt32LE(i * BYTES_PER_TOKEN);
  return out;
}
