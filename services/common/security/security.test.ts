/** The cluster-secret primitives: key derivation, gRPC call tokens, sealed payloads, secret files. */
import { mkdtempSync, rmSync, statSync, writeFileSync, chmodSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CallTokenVerifier, CLOCK_SKEW_MS, mintCallToken } from './call-token.js';
import { ClusterKeys } from './cluster-keys.js';
import { open, seal, SEAL_MAX_AGE_MS, sealId } from './seal.js';
import { createSecretFile, readSecretFile } from './secret-file.js';

const secret = Buffer.from('0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef');
const keys = ClusterKeys.fromSecret(secret);
const other = ClusterKeys.fromSecret(Buffer.from('f'.repeat(64)));
const dir = mkdtempSync(join(tmpdir(), 'tandem-secret-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('cluster keys', () => {
  it('derives one distinct 32-byte key per plane, the same from the same secret', () => {
    expect(new Set([keys.grpc, keys.bus, keys.transfer, keys.state].map((k) => k.toString('hex'))).size).toBe(4);
    for (const k of [keys.grpc, keys.bus, keys.transfer, keys.state]) expect(k.length).toBe(32);
    expect(ClusterKeys.fromSecret(secret).bus.equals(keys.bus)).toBe(true);
    expect(keys.bus.equals(secret.subarray(0, 32))).toBe(false);
  });

  it('refuses a secret shorter than 32 bytes', () => {
    expect(() => ClusterKeys.fromSecret(Buffer.from('short'))).toThrow(/at least 32 bytes/);
  });
});

describe('gRPC call tokens', () => {
  const method = '/tandem.v1.Worker/Generate';

  it('accepts a fresh token once, for the method it was minted for', () => {
    const v = new CallTokenVerifier(keys.grpc);
    const t = mintCallToken(keys.grpc, method);
    expect(v.verify(t, method)).toEqual({ ok: true });
    expect(v.verify(t, method)).toEqual({ ok: false, reason: 'replayed' });
    expect(new CallTokenVerifier(keys.grpc).verify(mintCallToken(keys.grpc, method), '/tandem.v1.Router/Generate')).toEqual({ ok: false, reason: 'bad_mac' });
  });

  it('refuses missing, malformed, foreign-key, tampered and expired tokens', () => {
    const v = new CallTokenVerifier(keys.grpc);
    expect(v.verify(undefined, method)).toEqual({ ok: false, reason: 'missing' });
    expect(v.verify('Bearer abc', method)).toEqual({ ok: false, reason: 'malformed' });
    expect(v.verify(mintCallToken(other.grpc, method), method)).toEqual({ ok: false, reason: 'bad_mac' });
    const t = mintCallToken(keys.grpc, method);
    const [, issued, nonce, mac] = t.split('.');
    expect(v.verify(`t1.${Number(issued) + 1}.${nonce}.${mac}`, method)).toEqual({ ok: false, reason: 'bad_mac' });
    const now = Date.now();
    expect(v.verify(mintCallToken(keys.grpc, method, now - CLOCK_SKEW_MS - 1), method, now)).toEqual({ ok: false, reason: 'expired' });
    expect(v.verify(mintCallToken(keys.grpc, method, now + CLOCK_SKEW_MS - 1), method, now)).toEqual({ ok: true });
  });
});

describe('sealed payloads', () => {
  const plain = new TextEncoder().encode('{"cacheKeyTokens":[1,2,3]}');

  it('round-trips under the same key and context, and hides the plaintext', () => {
    const s = seal(keys.bus, 'msg|a', plain);
    expect(Buffer.from(s).includes(Buffer.from('cacheKeyTokens'))).toBe(false);
    const o = open(keys.bus, 'msg|a', s);
    expect(o.ok && Buffer.from(o.plaintext).equals(Buffer.from(plain))).toBe(true);
    expect(sealId(s)).toHaveLength(16);
    expect(sealId(seal(keys.bus, 'msg|a', plain))).not.toBe(sealId(s));
  });

  it('tells unsigned from forged from stale', () => {
    expect(open(keys.bus, 'msg|a', plain)).toEqual({ ok: false, reason: 'unsigned' });
    expect(open(other.bus, 'msg|a', seal(keys.bus, 'msg|a', plain))).toEqual({ ok: false, reason: 'forged' });
    expect(open(keys.bus, 'msg|b', seal(keys.bus, 'msg|a', plain))).toEqual({ ok: false, reason: 'forged' });
    const flipped = Buffer.from(seal(keys.bus, 'msg|a', plain));
    flipped[flipped.length - 1]! ^= 1;
    expect(open(keys.bus, 'msg|a', flipped)).toEqual({ ok: false, reason: 'forged' });
    const retimed = Buffer.from(seal(keys.bus, 'msg|a', plain));
    retimed.writeBigUInt64LE(BigInt(Date.now() + 1), 4);
    expect(open(keys.bus, 'msg|a', retimed)).toEqual({ ok: false, reason: 'forged' });
    const now = Date.now();
    expect(open(keys.bus, 'msg|a', seal(keys.bus, 'msg|a', plain, now - SEAL_MAX_AGE_MS - 1), now)).toEqual({ ok: false, reason: 'stale' });
  });
});

describe('secret files', () => {
  it('creates a 0600 file of 64 hex digits, never over an existing one', () => {
    const path = join(dir, 'sub', 'secret');
    createSecretFile(path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, 'utf8').trim()).toMatch(/^[0-9a-f]{64}$/);
    expect(readSecretFile(path).warning).toBeUndefined();
    expect(() => createSecretFile(path)).toThrow(/EEXIST/);
  });

  it('reads what operators write (trimmed), warns when every user can read it, refuses short ones', () => {
    const path = join(dir, 'mounted');
    writeFileSync(path, `  ${'x'.repeat(40)}\n`);
    chmodSync(path, 0o644);
    const r = readSecretFile(path);
    expect(r.secret.toString()).toBe('x'.repeat(40));
    expect(r.warning).toMatch(/readable by every user/);
    // What Kubernetes mounts for a non-root pod (0440, group = fsGroup): no warning.
    chmodSync(path, 0o440);
    expect(readSecretFile(path).warning).toBeUndefined();
    chmodSync(path, 0o644);
    writeFileSync(path, 'too short');
    expect(() => readSecretFile(path)).toThrow(/at least 32/);
    expect(() => readSecretFile(join(dir, 'none'))).toThrow(/cannot read the cluster secret file/);
  });
});
