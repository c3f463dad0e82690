import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * gRPC call tokens (ADR 0015): `t1.<issued ms>.<nonce>.<mac>`, the MAC an HMAC-SHA256 with the
 * cluster's gRPC key over the method path, the time and the nonce. A token is good for one call
 * of one method, within CLOCK_SKEW_MS of its issue time, once per server (nonces are
 * remembered). It is minted per call by the client interceptor, so it costs one HMAC (~2 µs).
 */
export const CALL_TOKEN_HEADER = 'x-tandem-token';
/** How far the caller's clock may be from the server's (NTP keeps clusters far closer). */
export const CLOCK_SKEW_MS = 60_000;

function mac(key: Buffer, method: string, issued: string, nonce: string): Buffer {
  return createHmac('sha256', key).update(`tandem-grpc\n${method}\n${issued}\n${nonce}`).digest();
}

export function mintCallToken(key: Buffer, method: string, nowMs = Date.now()): string {
  const issued = String(nowMs);
  const nonce = randomBytes(12).toString('base64url');
  return `t1.${issued}.${nonce}.${mac(key, method, issued, nonce).toString('base64url')}`;
}

export type TokenVerdict = { ok: true } | { ok: false; reason: 'missing' | 'malformed' | 'bad_mac' | 'expired' | 'replayed' };

/** Checks tokens for one server: MAC, freshness and single use. */
export class CallTokenVerifier {
  /** nonce → issue time, forgotten once outside the skew window (a replay then fails as expired). */
  private readonly seen = new Map<string, number>();
  private lastSweep = 0;

  constructor(private readonly key: Buffer) {}

  verify(token: string | undefined, method: string, nowMs = Date.now()): TokenVerdict {
    if (token === undefined || token === '') return { ok: false, reason: 'missing' };
    const parts = token.split('.');
    if (parts.length !== 4 || parts[0] !== 't1' || !/^\d{1,15}$/.test(parts[1]!)) return { ok: false, reason: 'malformed' };
    const [, issued, nonce, given] = parts as [string, string, string, string];
    const want = mac(this.key, method, issued, nonce);
    const got = Buffer.from(given, 'base64url');
    if (got.length !== want.length || !timingSafeEqual(got, want)) return { ok: false, reason: 'bad_mac' };
    const at = Number(issued);
    if (Math.abs(nowMs - at) > CLOCK_SKEW_MS) return { ok: false, reason: 'expired' };
    this.sweep(nowMs);
    if (this.seen.has(nonce)) return { ok: false, reason: 'replayed' };
    this.seen.set(nonce, at);
    return { ok: true };
  }

  private sweep(nowMs: number): void {
    if (nowMs - this.lastSweep < 10_000) return;
    this.lastSweep = nowMs;
    for (const [n, at] of this.seen) if (Math.abs(nowMs - at) > CLOCK_SKEW_MS) this.seen.delete(n);
  }
}
