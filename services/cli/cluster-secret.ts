import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { loadGrpcTls, type GrpcTls, type GrpcTlsFiles } from '../common/grpc/grpc-tls.js';
import { tandemHome } from '../common/paths.js';
import { ClusterKeys } from '../common/security/cluster-keys.js';
import { createSecretFile, readSecretFile } from '../common/security/secret-file.js';
import { CliError } from './cli-error.js';

/** The environment variable that hands a cluster component the PATH of its secret (never the secret). */
export const SECRET_FILE_ENV = 'TANDEM_CLUSTER_SECRET_FILE';

export const SECURITY_HELP = `--cluster-secret-file FILE (or ${SECRET_FILE_ENV}) is the cluster secret every component
of one cluster shares: gRPC calls carry a token made from it, NATS payloads and registry records
are sealed with it, TCP KV transfers authenticate with it (docs/security.md). Without it the
component refuses to start unless --insecure (or TANDEM_INSECURE=1) says to run unauthenticated.`;

/**
 * A cluster component's keys: from --cluster-secret-file / TANDEM_CLUSTER_SECRET_FILE, or none
 * with --insecure / TANDEM_INSECURE=1 (with a loud warning). Neither is an error: running a
 * cluster component without authentication must be a choice someone wrote down.
 */
export function clusterKeysOption(o: { secretFile?: string; insecure?: boolean }, component: string, log: (m: string) => void): ClusterKeys | undefined {
  const file = o.secretFile ?? (process.env[SECRET_FILE_ENV] || undefined);
  const insecure = o.insecure === true || process.env.TANDEM_INSECURE === '1';
  if (file !== undefined && insecure) throw new CliError(`--insecure and a cluster secret file (${file}) contradict each other; drop one`);
  if (insecure) {
    log(`[tandem] WARNING: ${component} runs with --insecure: its gRPC port, its NATS messages and registry record and its KV transfer port accept and reveal anything to anyone who can reach them. Use it only on a network nobody else can reach (docs/security.md).`);
    return undefined;
  }
  if (file === undefined) {
    throw new CliError(`${component} needs the cluster secret: --cluster-secret-file FILE (or ${SECRET_FILE_ENV}); or --insecure to run without authentication (docs/security.md)`);
  }
  try {
    const { secret, warning } = readSecretFile(file);
    if (warning) log(`[tandem] warning: ${warning}`);
    return ClusterKeys.fromSecret(secret);
  } catch (e) {
    throw new CliError((e as Error).message);
  }
}

/**
 * `tandem up --cluster` without a secret file: a fresh one for this run, mode 0600, under
 * $TANDEM_HOME/clusters/<name>/ (per process, so two runs never overwrite each other's), removed
 * when the cluster stops.
 */
export function generatedSecretFile(cluster: string | undefined): { path: string; remove(): void } {
  const path = join(tandemHome(), 'clusters', cluster ?? 'default', `secret.${process.pid}`);
  rmSync(path, { force: true }); // a leftover of a crashed run with a recycled pid
  createSecretFile(path);
  return { path, remove: () => rmSync(path, { force: true }) };
}

/** The environment variables of the gRPC TLS files (paths; what `tandem up --cluster` hands its children). */
export const GRPC_TLS_ENV = { cert: 'TANDEM_GRPC_TLS_CERT', key: 'TANDEM_GRPC_TLS_KEY', ca: 'TANDEM_GRPC_TLS_CA', serverName: 'TANDEM_GRPC_TLS_SERVER_NAME' } as const;

/** parseArgs options of the gRPC TLS flags, shared by router, worker and gateway. */
export const GRPC_TLS_OPTIONS = {
  'grpc-tls-cert': { type: 'string' },
  'grpc-tls-key': { type: 'string' },
  'grpc-tls-ca': { type: 'string' },
  'grpc-tls-server-name': { type: 'string' },
} as const;

export const GRPC_TLS_HELP = `--grpc-tls-cert FILE --grpc-tls-key FILE [--grpc-tls-ca FILE] (or ${GRPC_TLS_ENV.cert},
${GRPC_TLS_ENV.key}, ${GRPC_TLS_ENV.ca}) put gRPC on TLS (PEM files; tandem gen-certs makes
them). With a CA, servers require client certificates it signed (mutual TLS) and clients trust
only it. Call tokens are still checked. The gateway (a client only) may give just --grpc-tls-ca.
--grpc-tls-server-name NAME (or ${GRPC_TLS_ENV.serverName}): as a client, check servers' certificates for
NAME instead of the dialled address (Kubernetes: workers are dialled at pod IPs).`;

/** The gRPC TLS files of a component, from its flags or else the environment (empty = unset). */
export function grpcTlsFiles(values: { 'grpc-tls-cert'?: string; 'grpc-tls-key'?: string; 'grpc-tls-ca'?: string; 'grpc-tls-server-name'?: string }): GrpcTlsFiles {
  const pick = (flag: keyof typeof GRPC_TLS_OPTIONS, env: string) => values[flag] ?? (process.env[env] || undefined);
  const files: GrpcTlsFiles = {};
  const cert = pick('grpc-tls-cert', GRPC_TLS_ENV.cert);
  const key = pick('grpc-tls-key', GRPC_TLS_ENV.key);
  const ca = pick('grpc-tls-ca', GRPC_TLS_ENV.ca);
  if (cert !== undefined) files.cert = cert;
  if (key !== undefined) files.key = key;
  if (ca !== undefined) files.ca = ca;
  const serverName = pick('grpc-tls-server-name', GRPC_TLS_ENV.serverName);
  if (serverName !== undefined) files.serverName = serverName;
  return files;
}

/** A component's gRPC TLS (undefined: plaintext gRPC); says on stderr which it is. */
export function grpcTlsOption(values: Parameters<typeof grpcTlsFiles>[0], component: string, server: boolean, log: (m: string) => void): GrpcTls | undefined {
  let tls: GrpcTls | undefined;
  try {
    tls = loadGrpcTls(grpcTlsFiles(values), server);
  } catch (e) {
    throw new CliError((e as Error).message);
  }
  if (tls) log(`[tandem] ${component}: gRPC over TLS${tls.ca ? (server ? ' (mutual: client certificates required)' : ' (trusting the given CA)') : ''}`);
  return tls;
}
