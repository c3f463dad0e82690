import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';

/**
 * Encryption of what a sequence record holds of the user's data — the stored request (prompt
 * token ids) and the checkpointed tokens — with a key derived from the cluster secret, so that
 * whoever can read Redis (a client on its network, a dump, a replica) reads no prompt and no
 * output. Record fields (state, counts, workers, times) stay in clear: the Lua scripts work on them.
 *
 * - Tokens: AES-256-CTR under a key of their own per sequence (HMAC of the sequence id), the
 *   keystream addressed by byte offset. Token i is encrypted the same way wherever and whenever it
 *   is written, so the checkpoint script's byte comparisons (a re-sent range must equal what is
 *   stored), APPEND and STRLEN / 4 work on the ciphertext unchanged. The same offset of the same
 *   sequence never holds two different ids (the store refuses such an overwrite), so no keystream
 *   byte ever covers two plaintexts. CTR has no tag, so each checkpoint also stores one
 *   (`tokensTag`: HMAC-SHA256 over the sequence id, the offset and the ciphertext, 16 bytes) in
 *   the record; a read returns only the prefix that checkpoints with good tags cover, so tokens
 *   changed in Redis are dropped, never resumed from.
 * - The request: AES-256-GCM with a random IV, bound to the sequence id (a sealed request copied
 *   to another id does not open).
 * - The record's fields (state, attempt, workers, deadline, counts, times, history, error) stay
 *   in clear for the scripts, under one tag (`recordTag`, the hash's `mac` field: HMAC-SHA256 over
 *   the sequence id and every field but the token tags, 16 bytes) written atomically with them
 *   (record-effects.ts); a read whose tag does not check out is refused as tampered.
 */
export class AtRestCipher {
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new RangeError('the at-rest key must be 32 bytes');
  }

  /** `data` (packed tokens starting at byte `offset` of the sequence's token string) XOR its keystream. */
  tokens(id: string, offset: number, data: Buffer): Buffer {
    if (data.length === 0) return data;
    const skip = offset % 16;
    const iv = Buffer.alloc(16);
    iv.writeBigUInt64BE(BigInt(Math.floor(offset / 16)), 8);
    const c = createCipheriv('aes-256-ctr', this.sequenceKey(id), iv);
    const stream = c.update(Buffer.alloc(skip + data.length));
    const out = Buffer.allocUnsafe(data.length);
    for (let i = 0; i < data.length; i++) out[i] = data[i]! ^ stream[skip + i]!;
    return out;
  }

  /** The tag of a checkpoint: `ciphertext` written at token byte `offset` of sequence `id`. */
  tokensTag(id: string, offset: number, ciphertext: Buffer): string {
    return createHmac('sha256', this.key).update(`tokens-tag\0${id}\0${offset}\0`).update(ciphertext).digest().subarray(0, 16).toString('base64url');
  }

  /** The tag of a record's fields (`signed`: record-effects.ts signedFields of its hash). */
  recordTag(id: string, signed: string): string {
    return createHmac('sha256', this.key).update(`record-tag\0${id}\0`).update(signed).digest().subarray(0, 16).toString('base64url');
  }

  sealRequest(id: string, json: string): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    c.setAAD(Buffer.from(`request\0${id}`));
    const ct = Buffer.concat([c.update(json, 'utf8'), c.final()]);
    return SEALED + Buffer.concat([iv, c.getAuthTag(), ct]).toString('base64');
  }

  /** The request's JSON; throws when it was sealed under another key or for another id. */
  openRequest(id: string, stored: string): string {
    if (!stored.startsWith(SEALED)) throw new Error(`the stored request of ${id} is not sealed, and this store expects sealed requests`);
    const b = Buffer.from(stored.slice(SEALED.length), 'base64');
    const d = createDecipheriv('aes-256-gcm', this.key, b.subarray(0, 12));
    d.setAAD(Buffer.from(`request\0${id}`));
    d.setAuthTag(b.subarray(12, 28));
    return Buffer.concat([d.update(b.subarray(28)), d.final()]).toString('utf8');
  }

  private sequenceKey(id: string): Buffer {
    return createHmac('sha256', this.key).update(`tokens\0${id}`).digest();
  }
}

/** How a sealed request starts (a plain one is JSON, starting with `{`). */
export const SEALED = 'sealed:v1:';
