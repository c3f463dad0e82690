/**
 * Chained content hashes of full KV blocks ("TBH1"). Workers publish them in KV events and the
 * router keys its prefix index by them, so the definition below is a wire format: it must give
 * the same string in every process, on every machine, forever. Changing anything here means a
 * new version tag.
 *
 * Definition of `hashBlockTokens(parent, tokens, cacheSalt)`:
 *
 * 1. Build a stream of 32-bit unsigned words:
 *    - `0x54424831` (version tag, ASCII "TBH1" read big-endian)
 *    - `flags`: bit 0 = a parent hash is given, bit 1 = a non-empty cacheSalt is given
 *    - 4 words of the parent hash: its 32 hex digits split into 4 groups of 8, each group read
 *      as a big-endian hex number (all 0 when there is no parent)
 *    - the UTF-8 byte length of cacheSalt (0 when absent; `''` is the same as absent), followed by
 *      its UTF-8 bytes packed little-endian into words (byte i goes to bits 8*(i%4) of word
 *      floor(i/4)), the last word zero-padded
 *    - the number of tokens, followed by each token id as an unsigned 32-bit integer
 *      (ids must be integers in [0, 2^32))
 * 2. Feed the stream, word by word, into four independent 32-bit lanes L0..L3. All arithmetic
 *    is mod 2^32; `rotl` is a 32-bit left rotation and `*` a 32-bit wrapping multiply. For each
 *    word `w` and each lane `i` with constants (A, B, R, S, C) from `LANES` below:
 *        k  = rotl(w * A, R) * B
 *        Li = rotl(Li ^ k, S) * 5 + C
 *    Initial lane values are the `seed` constants in `LANES`.
 * 3. Finalize: every lane ^= number of words in the stream; then
 *        L0 += L1 + L2 + L3;  L1 += L0;  L2 += L0;  L3 += L0
 *        Li = fmix(Li) for each lane, where fmix(h) =
 *             h ^= h >>> 16; h *= 0x85ebca6b; h ^= h >>> 13; h *= 0xc2b2ae35; h ^= h >>> 16
 *        L0 += L1 + L2 + L3;  L1 += L0;  L2 += L0;  L3 += L0
 * 4. Render L0, L1, L2, L3 in that order, each as 8 lowercase hex digits (zero-padded): a
 *    32-character, 128-bit string.
 *
 * Reference values (pinned by block-pool.test.ts):
 *    hashBlockTokens(null, [1, 2, 3, 4])                 = 634ed10a3edc319627a22054b299cf33
 *    hashBlockTokens(null, [1, 2, 3, 4], 0, 4, 'salt')   = 9d654e804da4afc379c43cb064cfbdcd
 *
 * Costs: (8 + key words + tokens) word steps per block, no allocation besides the result string
 * (the UTF-8 encoding of the last cacheSalt seen is memoized; the word stream reuses a
 * module-level scratch buffer, safe because hashing is synchronous and calls nothing outside).
 */

export const BLOCK_HASH_VERSION_TAG = 0x54424831;
/** Length in characters of every block hash. */
export const BLOCK_HASH_HEX_LENGTH = 32;

/** Per-lane constants [seed, A, B, R, S, C]. */
const LANES: readonly (readonly [number, number, number, number, number, number])[] = [
  [0x243f6a88, 0xcc9e2d51, 0x1b873593, 15, 13, 0xe6546b64],
  [0x85a308d3, 0x85ebca77, 0xc2b2ae3d, 13, 17, 0x561ccd1b],
  [0x13198a2e, 0x9e3779b1, 0x27d4eb2f, 17, 15, 0x0bcaa747],
  [0x03707344, 0x165667b1, 0xd3a2646d, 11, 19, 0x32ac3b17],
];

// Hoisted constants so the hot loop reads locals, not array slots.
const [S0, A0, B0, R0, T0, C0] = LANES[0]!;
const [S1, A1, B1, R1, T1, C1] = LANES[1]!;
const [S2, A2, B2, R2, T2, C2] = LANES[2]!;
const [S3, A3, B3, R3, T3, C3] = LANES[3]!;

const HEX_RE = /^[0-9a-f]{32}$/;

/** True when `s` has the shape of a block hash (32 lowercase hex digits). */
export function isBlockHash(s: unknown): s is string {
  return typeof s === 'string' && HEX_RE.test(s);
}

// Memo of the last cacheSalt's UTF-8 words (engines hash many blocks with the same key in a row).
const encoder = new TextEncoder();
let memoKey = '';
let memoBytes = 0;
let memoWords: Uint32Array = new Uint32Array(0);
/** Word-stream scratch buffer, grown on demand. */
let scratch = new Uint32Array(64);

function encodeKey(key: string): void {
  if (key === memoKey) return;
  const bytes = encoder.encode(key);
  const words = new Uint32Array((bytes.length + 3) >>> 2);
  for (let i = 0; i < bytes.length; i++) words[i >>> 2]! |= bytes[i]! << ((i & 3) << 3);
  memoKey = key;
  memoBytes = bytes.length;
  memoWords = words;
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}

const HEX_CODES = Array.from('0123456789abcdef', (c) => c.charCodeAt(0));
/** Char codes of the output string (one flat string from one fromCharCode call beats concatenation). */
const outCodes: number[] = new Array<number>(32).fill(48);

function renderHex(h0: number, h1: number, h2: number, h3: number): string {
  for (let s = 28, o = 0; s >= 0; s -= 4, o++) {
    outCodes[o] = HEX_CODES[(h0 >>> s) & 15]!;
    outCodes[o + 8] = HEX_CODES[(h1 >>> s) & 15]!;
    outCodes[o + 16] = HEX_CODES[(h2 >>> s) & 15]!;
    outCodes[o + 24] = HEX_CODES[(h3 >>> s) & 15]!;
  }
  return String.fromCharCode.apply(null, outCodes);
}

/** Value of 8 lowercase hex digits of `s` from `at`, or -1 if one is not [0-9a-f]. */
function parseHex8(s: string, at: number): number {
  let v = 0;
  for (let i = at; i < at + 8; i++) {
    const c = s.charCodeAt(i);
    let d: number;
    if (c >= 48 && c <= 57) d = c - 48;
    else if (c >= 97 && c <= 102) d = c - 87;
    else return -1;
    v = v * 16 + d;
  }
  return v;
}

/**
 * Chained hash of the tokens `tokens[start .. start+count)` of one full block (see the file
 * comment for the exact definition). `parentHash` is the hash of the previous block of the same
 * sequence, or null for its first block.
 */
export function hashBlockTokens(
  parentHash: string | null,
  tokens: ArrayLike<number>,
  start = 0,
  count = tokens.length - start,
  cacheSalt?: string,
): string {
  if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0 || start + count > tokens.length) {
    throw new RangeError(`block hash: token range [${start}, ${start + count}) is outside 0..${tokens.length}`);
  }
  let p0 = 0, p1 = 0, p2 = 0, p3 = 0;
  let flags = 0;
  if (parentHash !== null) {
    if (typeof parentHash === 'string' && parentHash.length === BLOCK_HASH_HEX_LENGTH) {
      p0 = parseHex8(parentHash, 0);
      p1 = parseHex8(parentHash, 8);
      p2 = parseHex8(parentHash, 16);
      p3 = parseHex8(parentHash, 24);
    } else {
      p0 = -1;
    }
    if (p0 < 0 || p1 < 0 || p2 < 0 || p3 < 0) {
      throw new Error(`block hash: parent hash ${JSON.stringify(parentHash)} is not 32 lowercase hex digits`);
    }
    flags |= 1;
  }
  let keyBytes = 0;
  let keyWords: Uint32Array | null = null;
  if (cacheSalt !== undefined && cacheSalt !== '') {
    encodeKey(cacheSalt);
    keyBytes = memoBytes;
    keyWords = memoWords;
    flags |= 2;
  }

  // Lay the whole word stream out in a reusable scratch buffer, then run the lanes over it in
  // one tight loop (keeps the lane state in registers).
  const keyLen = keyWords === null ? 0 : keyWords.length;
  const n = 8 + keyLen + count;
  if (scratch.length < n) scratch = new Uint32Array(Math.max(n, scratch.length * 2));
  const w = scratch;
  w[0] = BLOCK_HASH_VERSION_TAG;
  w[1] = flags;
  w[2] = p0; w[3] = p1; w[4] = p2; w[5] = p3;
  w[6] = keyBytes;
  let o = 7;
  for (let i = 0; i < keyLen; i++) w[o++] = keyWords![i]!;
  w[o++] = count;
  const end = start + count;
  for (let i = start; i < end; i++) {
    const t = tokens[i]!;
    if (t !== t >>> 0) throw new RangeError(`block hash: token id ${t} at index ${i} is not an integer in [0, 2^32)`);
    w[o++] = t;
  }

  let h0 = S0, h1 = S1, h2 = S2, h3 = S3;
  for (let i = 0; i < n; i++) {
    const x = w[i]!;
    let k = Math.imul(x, A0); k = (k << R0) | (k >>> (32 - R0)); k = Math.imul(k, B0);
    h0 ^= k; h0 = (h0 << T0) | (h0 >>> (32 - T0)); h0 = (Math.imul(h0, 5) + C0) | 0;
    k = Math.imul(x, A1); k = (k << R1) | (k >>> (32 - R1)); k = Math.imul(k, B1);
    h1 ^= k; h1 = (h1 << T1) | (h1 >>> (32 - T1)); h1 = (Math.imul(h1, 5) + C1) | 0;
    k = Math.imul(x, A2); k = (k << R2) | (k >>> (32 - R2)); k = Math.imul(k, B2);
    h2 ^= k; h2 = (h2 << T2) | (h2 >>> (32 - T2)); h2 = (Math.imul(h2, 5) + C2) | 0;
    k = Math.imul(x, A3); k = (k << R3) | (k >>> (32 - R3)); k = Math.imul(k, B3);
    h3 ^= k; h3 = (h3 << T3) | (h3 >>> (32 - T3)); h3 = (Math.imul(h3, 5) + C3) | 0;
  }

  h0 ^= n; h1 ^= n; h2 ^= n; h3 ^= n;
  h0 = (h0 + h1 + h2 + h3) | 0; h1 = (h1 + h0) | 0; h2 = (h2 + h0) | 0; h3 = (h3 + h0) | 0;
  h0 = fmix(h0); h1 = fmix(h1); h2 = fmix(h2); h3 = fmix(h3);
  h0 = (h0 + h1 + h2 + h3) | 0; h1 = (h1 + h0) | 0; h2 = (h2 + h0) | 0; h3 = (h3 + h0) | 0;
  return renderHex(h0, h1, h2, h3);
}

/**
 * Hashes of every full block of `tokens` (a trailing partial block is ignored), each chained on
 * the previous one. What a worker's `markFull` calls produce for a prompt, and what a router can
 * compute from token ids to query its prefix index.
 */
export function blockHashesOf(tokens: ArrayLike<number>, blockSize: number, cacheSalt?: string, maxBlocks = Infinity): string[] {
  if (!Number.isInteger(blockSize) || blockSize <= 0) throw new RangeError(`block size must be a positive integer, got ${blockSize}`);
  const n = Math.min(Math.floor(tokens.length / blockSize), maxBlocks);
  const out: string[] = [];
  let parent: string | null = null;
  for (let b = 0; b < n; b++) {
    parent = hashBlockTokens(parent, tokens, b * blockSize, blockSize, cacheSalt);
    out.push(parent);
  }
  return out;
}

/**
 * How many leading full blocks of a prompt may come from a prefix cache: never the whole prompt,
 * because its last token must be computed to produce the next token's logits. The one definition
 * the scheduler (attach, reserve) and the router's prefix index share.
 */
export function cacheableBlocks(promptLength: number, blockSize: number): number {
  return Math.max(0, Math.floor((promptLength - 1) / blockSize));
}
