/**
 * A sequence's stored request (SequenceRequest) ↔ its stored form: one JSON string, kept by both
 * stores (Redis: `<prefix>seq:<id>:request`; memory: the same string), so what one store hands
 * back the other does too. Checked before it is stored: a request that cannot be read back
 * exactly (a non-integer token id, a NaN or infinite number, which JSON would turn into null)
 * is refused with a TypeError / RangeError, like every other bad argument.
 */
import { SequenceStoreError } from './errors.js';
import type { SequenceRequest } from './types.js';
import { MAX_TOKEN_ID } from './token-codec.js';

function checkIds(name: string, ids: unknown): void {
  if (!Array.isArray(ids)) throw new TypeError(`request.${name} must be an array of token ids`);
  for (let i = 0; i < ids.length; i++) {
    const t: unknown = ids[i];
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 0 || t > MAX_TOKEN_ID) {
      throw new RangeError(`request.${name}[${i}] is not a uint32 token id: ${String(t)}`);
    }
  }
}

/** Every number anywhere in `value` must survive JSON (finite). */
function checkFinite(path: string, value: unknown): void {
  if (typeof value === 'number' && !Number.isFinite(value)) throw new RangeError(`${path} must be a finite number, got ${String(value)}`);
  if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) checkFinite(`${path}.${k}`, v);
}

export function encodeRequest(r: SequenceRequest): string {
  if (r === null || typeof r !== 'object') throw new TypeError('request must be an object');
  checkIds('promptTokenIds', r.promptTokenIds);
  checkIds('eosTokenIds', r.eosTokenIds);
  if (r.sampling === null || typeof r.sampling !== 'object') throw new TypeError('request.sampling must be an object');
  checkIds('sampling.stopTokenIds', r.sampling.stopTokenIds);
  if (r.sampling.seed !== undefined) checkIds('sampling.seed', [r.sampling.seed]);
  if (r.cacheSalt !== undefined && typeof r.cacheSalt !== 'string') throw new TypeError('request.cacheSalt must be a string');
  if (r.images !== undefined && !Array.isArray(r.images)) throw new TypeError('request.images must be an array');
  if (r.grammar !== undefined && typeof r.grammar !== 'string') throw new TypeError('request.grammar must be a string');
  checkFinite('request', r);
  const stored: SequenceRequest = { promptTokenIds: r.promptTokenIds, sampling: r.sampling, eosTokenIds: r.eosTokenIds };
  if (r.cacheSalt !== undefined) stored.cacheSalt = r.cacheSalt;
  if (r.grammar !== undefined) stored.grammar = r.grammar;
  // Placement and hash only: pixels and embeddings are recomputed or fetched, never stored.
  if (r.images?.length) stored.images = r.images.map(({ mmHash, offset, tokenCount, grid }) => ({ mmHash, offset, tokenCount, grid: { t: grid.t, h: grid.h, w: grid.w } }));
  return JSON.stringify(stored);
}

export function decodeRequest(id: string, json: string): SequenceRequest {
  try {
    return JSON.parse(json) as SequenceRequest;
  } catch (e) {
    throw new SequenceStoreError(`corrupt stored request of sequence ${id}`, { cause: e });
  }
}
