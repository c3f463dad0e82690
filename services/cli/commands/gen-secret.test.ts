import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { runGenSecret } from './gen-secret.js';

const dir = mkdtempSync(join(tmpdir(), 'tandem-gen-secret-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('tandem gen-secret', () => {
  it('writes a 0600 secret, never overwrites it, keeps it with --if-absent, and never prints it', async () => {
    const out = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      const path = join(dir, 'sub', 'cluster-secret');
      expect(await runGenSecret(['--out', path])).toBe(0);
      const secret = readFileSync(path, 'utf8');
      expect(secret.trim()).toMatch(/^[0-9a-f]{64}$/);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(JSON.parse(String(out.mock.calls[0]![0]))).toEqual({ secret_file: path, created: true });
      await expect(runGenSecret(['--out', path])).rejects.toThrow(/exists; a secret is never overwritten/);
      expect(await runGenSecret(['--out', path, '--if-absent'])).toBe(0);
      expect(JSON.parse(String(out.mock.calls[1]![0]))).toEqual({ secret_file: path, created: false });
      expect(readFileSync(path, 'utf8')).toBe(secret);
      expect(out.mock.calls.flat().join('\n')).not.toContain(secret.trim());
    } finally {
      out.mockRestore();
    }
  });

  it('--group-readable writes it mode 0640 (a metrics key the scraper reads through its group)', async () => {
    const out = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      const path = join(dir, 'metrics', 'metrics-key');
      expect(await runGenSecret(['--out', path, '--group-readable'])).toBe(0);
      expect(statSync(path).mode & 0o777).toBe(0o640);
    } finally {
      out.mockRestore();
    }
  });

  it('--if-absent refuses to keep a file that is no usable secret', async () => {
    const path = join(dir, 'short');
    writeFileSync(path, 'short\n', { mode: 0o600 });
    await expect(runGenSecret(['--out', path, '--if-absent'])).rejects.toThrow(/at least 32/);
    await expect(runGenSecret([])).rejects.toThrow(/--out FILE is required/);
  });
});
