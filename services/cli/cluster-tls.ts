import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { GrpcTlsFiles } from '../common/grpc/grpc-tls.js';
import { tandemHome } from '../common/paths.js';
import { generateCerts, opensslAvailable } from './gen-certs.js';

/**
 * The gRPC TLS files of a `tandem up --cluster` run: those given (TANDEM_GRPC_TLS_*), else a
 * throw-away CA and one certificate for 127.0.0.1 / localhost made for this run under
 * $TANDEM_HOME/clusters/<name>/tls.<pid>/ (the CA key is dropped once it has signed; the
 * directory is removed when the cluster stops), else none when openssl is missing (said so).
 */
export function clusterTls(given: GrpcTlsFiles, cluster: string | undefined, log: (m: string) => void): { files: GrpcTlsFiles; remove(): void } | undefined {
  if (given.cert !== undefined || given.key !== undefined || given.ca !== undefined) return { files: given, remove: () => undefined };
  if (!opensslAvailable()) {
    log('[tandem] openssl is not on PATH: the cluster\'s gRPC runs in plaintext, authenticated by call tokens only (install openssl, or give TANDEM_GRPC_TLS_CERT / _KEY / _CA)');
    return undefined;
  }
  const dir = join(tandemHome(), 'clusters', cluster ?? 'default', `tls.${process.pid}`);
  rmSync(dir, { recursive: true, force: true }); // a leftover of a crashed run with a recycled pid
  const certs = generateCerts(dir, { hosts: ['127.0.0.1', 'localhost'], days: 7, keepCaKey: false, caName: 'Tandem throw-away cluster CA' });
  log(`[tandem] gRPC over mutual TLS with a throw-away CA and certificate for this run (${dir})`);
  // Clients check the certificate for its DNS name: dialling 127.0.0.1 with the IP as the TLS
  // server name is deprecated in Node (DEP0123, a warning at every start).
  return { files: { cert: certs.cert, key: certs.key, ca: certs.ca, serverName: 'localhost' }, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
