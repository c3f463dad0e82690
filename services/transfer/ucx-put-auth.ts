/**
 * Sender authentication of UCX checked puts (ADR 0020). UCX does not authenticate who connects,
 * so with the cluster's transfer key a checked put carries, in its grant field, a MAC over what
 * it asks for: the region, the real grant, every range in order, its issue time and a random
 * nonce. The receiver checks the MAC before its lease guard runs, refuses puts issued more than
 * SEAL_MAX_AGE_MS away from its clock and, within that window, any MAC it has already seen, so a
 * put header captured off the network cannot be sent again or altered. (The payload is not
 * covered: UCX moves it after the check, in clear; docs/security.md.)
 *
 * Wire form of the grant field: `tk1.<issuedMs>.<nonce hex>.<mac hex>.<g>` where `<g>` is empty
 * for a put without a grant and `=` followed by the grant otherwise.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ReplayWindow } from '../common/security/replay-window.js';
import { SEAL_MAX_AGE_MS } from '../common/security/seal.js';

const PREFIX = 'tk1';

function mac(key: Buffer, regionId: string, grant: string | undefined, issuedMs: number, nonce: string, ranges: ArrayLike<number>): Buffer {
  const h = createHmac('sha256', key);
  h.update(JSON.stringify(['tandem-ucx-put-v1', regionId, grant ?? null, issuedMs, nonce]));
  // Ranges as [offset, length] pairs, the order the receiver sees them in.
  for (let i = 0; i < ranges.length; i++) h.update(`|${ranges[i]}`);
  return h.digest().subarray(0, 16);
}

/** The grant field of an authenticated put of `ranges` ([offset, length] pairs) into `regionId`. */
export function signPutGrant(key: Buffer, regionId: string, grant: string | undefined, ranges: ArrayLike<number>, nowMs = Date.now()): string {
  const nonce = randomBytes(8).toString('hex');
  const tag = mac(key, regionId, grant, nowMs, nonce, ranges).toString('hex');
  return `${PREFIX}.${nowMs}.${nonce}.${tag}.${grant === undefined ? '' : `=${grant}`}`;
}

export type PutAuthResult = { ok: true; grant: string | undefined } | { ok: false; reason: string };

/** Checks grant fields of puts received with the transfer key; remembers MACs to refuse replays. */
export class PutAuthenticator {
  private readonly replays = new ReplayWindow();

  constructor(private readonly key: Buffer) {}

  verify(regionId: string, field: string | undefined, ranges: ArrayLike<number>, nowMs = Date.now()): PutAuthResult {
    const m = field === undefined ? null : /^tk1\.(\d{1,15})\.([0-9a-f]{16})\.([0-9a-f]{32})\.(=?)([\s\S]*)$/.exec(field);
    if (!m) return { ok: false, reason: 'the put is not authenticated (no transfer-key MAC: another cluster, or no cluster secret?)' };
    const issuedMs = Number(m[1]);
    const grant = m[4] === '=' ? m[5]! : m[5] === '' ? undefined : null;
    if (grant === null) return { ok: false, reason: 'the put is not authenticated (malformed grant field)' };
    const expected = mac(this.key, regionId, grant, issuedMs, m[2]!, ranges);
    if (!timingSafeEqual(expected, Buffer.from(m[3]!, 'hex'))) return { ok: false, reason: 'the put is not authenticated (bad MAC: another cluster\'s key, or altered on the way)' };
    if (Math.abs(nowMs - issuedMs) > SEAL_MAX_AGE_MS) return { ok: false, reason: 'the put is not authenticated (issued too long ago or in the future: replayed, or clocks apart)' };
    if (!this.replays.accept(m[3]!, issuedMs, nowMs)) return { ok: false, reason: 'the put is not authenticated (replayed)' };
    return { ok: true, grant };
  }
}
