import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { clusterTls } from './cluster-tls.js';
import { opensslAvailable } from './gen-certs.js';

const home = mkdtempSync(join(tmpdir(), 'tandem-cluster-tls-'));
const saved = { home: process.env.TANDEM_HOME, path: process.env.PATH };
beforeAll(() => {
  process.env.TANDEM_HOME = home;
});
afterEach(() => {
  process.env.PATH = saved.path;
});
afterAll(() => {
  if (saved.home === undefined) delete process.env.TANDEM_HOME;
  else process.env.TANDEM_HOME = saved.home;
  rmSync(home, { recursive: true, force: true });
});

describe('tandem up --cluster: gRPC TLS files', () => {
  it('without files given: a throw-away CA and certificate for this run, removed at the end', () => {
    // openssl makes them (.ci/run installs it): without it this fails, never skips.
    expect(opensslAvailable()).toBe(true);
    const logs: string[] = [];
    const tls = clusterTls({}, 'tls-test', (m) => logs.push(m))!;
    expect(tls.files.cert).toBe(join(home, 'clusters', 'tls-test', `tls.${process.pid}`, 'tandem.crt'));
    expect(readdirSync(dirname(tls.files.cert!)).sort()).toEqual(['ca.crt', 'tandem.crt', 'tandem.key']);
    // Clients check the certificate's DNS name, not the dialled IP (Node deprecates an IP as the TLS server name).
    expect(tls.files.serverName).toBe('localhost');
    expect(logs.join('\n')).toMatch(/mutual TLS with a throw-away CA/);
    tls.remove();
    expect(existsSync(dirname(tls.files.cert!))).toBe(false);
  });

  it('files given (TANDEM_GRPC_TLS_*) are used as they are, and never removed', () => {
    const given = { cert: '/etc/tandem/tandem.crt', key: '/etc/tandem/tandem.key', ca: '/etc/tandem/ca.crt' };
    const tls = clusterTls(given, 'tls-test', () => undefined)!;
    expect(tls.files).toEqual(given);
  });

  it('without openssl: says so, and the cluster runs with call tokens only', () => {
    process.env.PATH = join(home, 'empty');
    const logs: string[] = [];
    expect(clusterTls({}, 'tls-test', (m) => logs.push(m))).toBeUndefined();
    expect(logs.join('\n')).toMatch(/openssl is not on PATH: the cluster's gRPC runs in plaintext, authenticated by call tokens only/);
  });
});
