import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Sealed payloads (ADR 0015): AES-256-GCM with the cluster's bus key, so whoever reads NATS
 * without the secret sees neither prompts nor region descriptors, and whoever writes to it
 * without the secret cannot make a message or registry record that any Tandem process accepts.
 *
 *   envelope = magic "TSL1" | issued ms u64 LE | iv (12) | tag (16) | ciphertext
 *
 * The additional data is the envelope's first 24 bytes plus a context string naming where the
 * payload belongs (subject, bucket/key, or the request a reply answers), so a sealed payload
 * moved to another subject or key, or with its time changed, fails to open.
 */
const MAGIC = Buffer.from('TSL1');
const HEAD = 4 + 8 + 12;
const TAG = 16;
/** A sealed payload older (or newer) than this is refused: bounds replays of captured messages. */
export const SEAL_MAX_AGE_MS = 60_000;

export type OpenResult = { ok: true; plaintext: Uint8Array; issuedMs: number } | { ok: false; reason: 'unsigned' | 'forged' | 'stale' };

export function seal(key: Buffer, context: string, plaintext: Uint8Array, nowMs = Date.now()): Uint8Array {
  const head = Buffer.allocUnsafe(HEAD);
  MAGIC.copy(head, 0);
  head.writeBigUInt64LE(BigInt(nowMs), 4);
  const iv = randomBytes(12);
  iv.copy(head, 12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(Buffer.concat([head, Buffer.from(context, 'utf8')]));
  const ct = Buffer.concat([c.update(plaintext), c.final()]);
  return Buffer.concat([head, c.getAuthTag(), ct]);
}

export function open(key: Buffer, context: string, data: Uint8Array, nowMs = Date.now()): OpenResult {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  // Not an envelope at all: a plain payload from an unauthenticated (or --insecure) publisher.
  if (b.length < HEAD + TAG || !b.subarray(0, 4).equals(MAGIC)) return { ok: false, reason: 'unsigned' };
  const head = b.subarray(0, HEAD);
  const d = createDecipheriv('aes-256-gcm', key, head.subarray(12, HEAD));
  d.setAAD(Buffer.concat([head, Buffer.from(context, 'utf8')]));
  d.setAuthTag(b.subarray(HEAD, HEAD + TAG));
  let plaintext: Buffer;
  try {
    plaintext = Buffer.concat([d.update(b.subarray(HEAD + TAG)), d.final()]);
  } catch {
    return { ok: false, reason: 'forged' };
  }
  const issuedMs = Number(head.readBigUInt64LE(4));
  if (Math.abs(nowMs - issuedMs) > SEAL_MAX_AGE_MS) return { ok: false, reason: 'stale' };
  return { ok: true, plaintext, issuedMs };
}

/** The 12-byte IV of a sealed payload (names the request a reply answers), or '' if not sealed. */
export function sealId(data: Uint8Array): string {
  if (data.length < HEAD + TAG) return '';
  return Buffer.from(data.buffer, data.byteOffset + 12, 12).toString('base64url');
}
