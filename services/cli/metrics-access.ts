import { readFileSync, statSync } from 'node:fs';
import { CliError } from './cli-error.js';

/** Environment variables of the metrics key (a value, or the path of a file holding it) and the metrics bind address. */
export const METRICS_ENV = { key: 'TANDEM_METRICS_API_KEY', keyFile: 'TANDEM_METRICS_API_KEY_FILE', host: 'TANDEM_METRICS_HOST' } as const;

/** parseArgs options shared by router and worker (the gateway serves /metrics on its API port). */
export const METRICS_ACCESS_OPTIONS = {
  'metrics-host': { type: 'string' },
  'metrics-api-key-file': { type: 'string' },
} as const;

export const METRICS_ACCESS_HELP = `--metrics-host ADDR (or ${METRICS_ENV.host}) binds the /metrics + /health port there instead
of --host (e.g. 127.0.0.1 to keep it off the network). --metrics-api-key-file FILE (or
${METRICS_ENV.keyFile}; or the key itself in ${METRICS_ENV.key}, never on the command line)
makes /metrics answer only "Authorization: Bearer <key>" (401 otherwise); /health stays open.`;

/**
 * The key that guards /metrics (and the gateway's /ready): from a file (flag or environment) or
 * the environment itself; `flagValue` is the gateway's older `--metrics-api-key KEY`. Two
 * sources at once are an error (which one wins would be a guess).
 */
export function metricsApiKeyOption(o: { file?: string; flagValue?: string }, log: (m: string) => void): string | undefined {
  const file = o.file ?? (process.env[METRICS_ENV.keyFile] || undefined);
  const value = o.flagValue ?? (process.env[METRICS_ENV.key] || undefined);
  if (file !== undefined && value !== undefined) throw new CliError(`a metrics key file (${file}) and a metrics key value (--metrics-api-key / ${METRICS_ENV.key}) contradict each other; give one`);
  if (file === undefined) return value;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new CliError(`cannot read the metrics key file ${file} (--metrics-api-key-file / ${METRICS_ENV.keyFile}): ${(e as Error).message}`);
  }
  const key = text.trim();
  if (key.length < 8 || /\s/.test(key)) throw new CliError(`the metrics key in ${file} must be one word of at least 8 characters (e.g. tandem gen-secret --out ${file})`);
  if (statSync(file).mode & 0o004) log(`[tandem] warning: the metrics key file ${file} is readable by every user; chmod o-r it`);
  return key;
}

/** Where the metrics port binds: --metrics-host, else TANDEM_METRICS_HOST, else undefined (the service's --host). */
export function metricsHostOption(flag: string | undefined): string | undefined {
  return flag ?? (process.env[METRICS_ENV.host] || undefined);
}
