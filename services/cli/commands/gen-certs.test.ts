import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { opensslAvailable } from '../gen-certs.js';
import { runGenCerts } from './gen-certs.js';

const dir = mkdtempSync(join(tmpdir(), 'tandem-gen-certs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('tandem gen-certs', () => {
  it('finds the openssl command (installed by .ci/run; gen-certs and up --cluster TLS need it)', () => {
    expect(opensslAvailable()).toBe(true);
  });

  it('writes a CA and a leaf for the hosts (server and client use), keys 0600, never overwriting', async () => {
    const out = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      const path = join(dir, 'certs');
      expect(await runGenCerts(['--out', path, '--hosts', '10.0.0.7,router.tandem.svc', '--days', '30'])).toBe(0);
      const printed = JSON.parse(String(out.mock.calls[0]![0])) as Record<string, unknown>;
      expect(printed).toMatchObject({ ca: join(path, 'ca.crt'), caKey: join(path, 'ca.key'), cert: join(path, 'tandem.crt'), key: join(path, 'tandem.key') });
      const ca = new X509Certificate(readFileSync(join(path, 'ca.crt')));
      const leaf = new X509Certificate(readFileSync(join(path, 'tandem.crt')));
      expect(ca.ca).toBe(true);
      expect(leaf.ca).toBe(false);
      expect(leaf.verify(ca.publicKey)).toBe(true);
      expect(leaf.subjectAltName).toBe('IP Address:10.0.0.7, DNS:router.tandem.svc');
      expect(leaf.keyUsage).toEqual(expect.arrayContaining(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'])); // serverAuth, clientAuth
      for (const k of ['tandem.key', 'ca.key']) expect(statSync(join(path, k)).mode & 0o777).toBe(0o600);
      expect(readdirSync(path).sort()).toEqual(['ca.crt', 'ca.key', 'tandem.crt', 'tandem.key']);
      await expect(runGenCerts(['--out', path])).rejects.toThrow(/exists; certificates are never overwritten/);
      await expect(runGenCerts([])).rejects.toThrow(/--out DIR is required/);
      await expect(runGenCerts(['--out', join(dir, 'x'), '--hosts', 'a b'])).rejects.toThrow(/not a host name/);
    } finally {
      out.mockRestore();
    }
  });

  it('--if-absent keeps a complete set and exits 0 (compose runs it at every up); --drop-ca-key leaves no CA key', async () => {
    const out = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      const path = join(dir, 'compose');
      expect(await runGenCerts(['--out', path, '--hosts', 'router,decode-text', '--if-absent', '--drop-ca-key'])).toBe(0);
      expect(readdirSync(path).sort()).toEqual(['ca.crt', 'tandem.crt', 'tandem.key']);
      const first = readFileSync(join(path, 'tandem.crt'), 'utf8');
      expect(await runGenCerts(['--out', path, '--hosts', 'router,decode-text', '--if-absent', '--drop-ca-key'])).toBe(0);
      expect(JSON.parse(String(out.mock.calls[1]![0]))).toMatchObject({ kept: true });
      expect(readFileSync(join(path, 'tandem.crt'), 'utf8')).toBe(first);
      // Without --if-absent an existing set is still an error, never overwritten.
      await expect(runGenCerts(['--out', path])).rejects.toThrow(/never overwritten/);
    } finally {
      out.mockRestore();
    }
  });
});
