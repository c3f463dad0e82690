import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';

/**
 * Certificates for gRPC TLS (docs/security.md), made with the `openssl` command: a CA and one
 * leaf certificate every router, worker and gateway of a cluster presents, valid for both server
 * and client authentication (mutual TLS), for the given hosts (IP addresses and DNS names).
 * P-256 keys, written 0600 in a 0700 directory.
 */
export interface GeneratedCerts {
  /** CA certificate: --grpc-tls-ca of every component. */
  ca: string;
  /** CA key (absent when dropped after signing). */
  caKey?: string;
  /** Leaf certificate and key: --grpc-tls-cert / --grpc-tls-key of every component. */
  cert: string;
  key: string;
}

export const CERT_FILES = { ca: 'ca.crt', caKey: 'ca.key', cert: 'tandem.crt', key: 'tandem.key' } as const;

/** Whether an `openssl` command runs here. */
export function opensslAvailable(): boolean {
  const r = spawnSync('openssl', ['version'], { stdio: 'ignore' });
  return r.error === undefined && r.status === 0;
}

export function generateCerts(dir: string, o: { hosts: readonly string[]; days: number; keepCaKey: boolean; caName?: string }): GeneratedCerts {
  if (o.hosts.length === 0) throw new Error('at least one host name or address is needed for the certificate');
  for (const h of o.hosts) if (!/^[A-Za-z0-9.:*-]+$/.test(h)) throw new Error(`'${h}' is not a host name or IP address`);
  const files = { ca: join(dir, CERT_FILES.ca), caKey: join(dir, CERT_FILES.caKey), cert: join(dir, CERT_FILES.cert), key: join(dir, CERT_FILES.key) };
  for (const f of Object.values(files)) if (existsSync(f)) throw new Error(`${f} exists; certificates are never overwritten`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const config = join(dir, `openssl.${process.pid}.cnf`);
  const csr = join(dir, `tandem.${process.pid}.csr`);
  const san = o.hosts.map((h) => (isIP(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
  writeFileSync(
    config,
    [
      '[req]',
      'distinguished_name = dn',
      'prompt = no',
      '[dn]',
      'CN = tandem',
      '[ca_ext]',
      'basicConstraints = critical,CA:TRUE,pathlen:0',
      'keyUsage = critical,keyCertSign,cRLSign',
      'subjectKeyIdentifier = hash',
      '[leaf_ext]',
      'basicConstraints = critical,CA:FALSE',
      'keyUsage = critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage = serverAuth,clientAuth',
      `subjectAltName = ${san}`,
      'subjectKeyIdentifier = hash',
      'authorityKeyIdentifier = keyid',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const days = ['-days', String(o.days)];
  try {
    openssl(['req', '-x509', '-config', config, '-extensions', 'ca_ext', ...newKey, '-keyout', files.caKey, '-out', files.ca, ...days, '-subj', `/CN=${o.caName ?? 'Tandem cluster CA'}`]);
    openssl(['req', '-new', '-config', config, ...newKey, '-keyout', files.key, '-out', csr, '-subj', '/CN=tandem']);
    openssl(['x509', '-req', '-in', csr, '-CA', files.ca, '-CAkey', files.caKey, '-set_serial', `0x${randomBytes(16).toString('hex')}`, ...days, '-extfile', config, '-extensions', 'leaf_ext', '-out', files.cert]);
    chmodSync(files.key, 0o600);
    chmodSync(files.caKey, 0o600);
  } finally {
    rmSync(config, { force: true });
    rmSync(csr, { force: true });
    if (!o.keepCaKey) rmSync(files.caKey, { force: true });
  }
  return o.keepCaKey ? files : { ca: files.ca, cert: files.cert, key: files.key };
}

function openssl(args: string[]): void {
  const r = spawnSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error) throw new Error(`cannot run openssl: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`openssl ${args[0]} failed (exit ${r.status}): ${r.stderr.trim().split('\n').slice(-3).join(' / ')}`);
}
