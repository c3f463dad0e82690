import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SEAL_MAX_AGE_MS } from '../common/security/seal.js';
import { PutAuthenticator, signPutGrant } from './ucx-put-auth.js';

const key = randomBytes(32);
const ranges = [4096, 8192, 65536, 512];

describe('UCX checked-put authentication (transfer-key MAC over the put)', () => {
  it('admits a put signed with the key, once, and hands the guard the real grant (or none)', () => {
    const auth = new PutAuthenticator(key);
    const field = signPutGrant(key, 'kv-1', 'lease-9', ranges);
    expect(auth.verify('kv-1', field, ranges)).toEqual({ ok: true, grant: 'lease-9' });
    expect(auth.verify('kv-1', field, ranges)).toMatchObject({ ok: false, reason: expect.stringMatching(/replayed/) });
    expect(auth.verify('kv-1', signPutGrant(key, 'kv-1', undefined, ranges), ranges)).toEqual({ ok: true, grant: undefined });
    expect(auth.verify('kv-1', signPutGrant(key, 'kv-1', '', ranges), ranges)).toEqual({ ok: true, grant: '' });
  });

  it('refuses a put without a MAC, under another key, or with anything it covers changed', () => {
    const auth = new PutAuthenticator(key);
    expect(auth.verify('kv-1', undefined, ranges).ok).toBe(false);
    expect(auth.verify('kv-1', 'lease-9', ranges).ok).toBe(false);
    expect(auth.verify('kv-1', signPutGrant(randomBytes(32), 'kv-1', 'lease-9', ranges), ranges)).toMatchObject({ ok: false, reason: expect.stringMatching(/bad MAC/) });
    expect(auth.verify('kv-2', signPutGrant(key, 'kv-1', 'lease-9', ranges), ranges).ok).toBe(false);
    expect(auth.verify('kv-1', signPutGrant(key, 'kv-1', 'lease-9', ranges), [4096, 8192, 0, 512]).ok).toBe(false);
    const field = signPutGrant(key, 'kv-1', 'lease-9', ranges);
    expect(auth.verify('kv-1', field.replace(/lease-9$/, 'lease-8'), ranges).ok).toBe(false);
    expect(auth.verify('kv-1', field.replace(/\.=lease-9$/, '.'), ranges).ok).toBe(false);
  });

  it('refuses a put issued outside the freshness window', () => {
    const auth = new PutAuthenticator(key);
    const now = Date.now();
    expect(auth.verify('kv-1', signPutGrant(key, 'kv-1', 'g', ranges, now - SEAL_MAX_AGE_MS - 1000), ranges, now)).toMatchObject({ ok: false, reason: expect.stringMatching(/too long ago/) });
    expect(auth.verify('kv-1', signPutGrant(key, 'kv-1', 'g', ranges, now + SEAL_MAX_AGE_MS + 1000), ranges, now).ok).toBe(false);
    expect(auth.verify('kv-1', signPutGrant(key, 'kv-1', 'g', ranges, now - 1000), ranges, now).ok).toBe(true);
  });
});
