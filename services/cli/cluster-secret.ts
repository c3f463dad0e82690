import { rmSync } from 'node:fs';
import { join } from 'node:path';
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
