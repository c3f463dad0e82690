import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CLUSTER_NAME } from '../protocol/registry.js';
import { parseQuantization, type Quantization } from '../protocol/quantization.js';
import { CliError } from './cli-error.js';

/** node:util parseArgs with usage errors turned into CliError (one clean line, exit 2). */
export function parseCommandArgs<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (e) {
    throw new CliError((e as Error).message);
  }
}

export function intOption(value: string | undefined, name: string, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new CliError(`--${name} must be an integer >= ${min}, got '${value}'`);
  return n;
}

/** --cluster-name or TANDEM_CLUSTER: which worker registry to join when clusters share a NATS. */
export function clusterName(flag: string | undefined): string | undefined {
  const name = flag ?? (process.env.TANDEM_CLUSTER || undefined);
  if (name !== undefined && !CLUSTER_NAME.test(name)) {
    throw new CliError(`--cluster-name must be 1-64 letters, digits, '-' or '_', got '${name}'`);
  }
  return name;
}

/** --quantization (or TANDEM_QUANTIZATION): none | wint8 | wint4 weight-only quantization. */
/** The KV / embedding transfer a worker uses: 'auto' = ucx when UCX opens here, else tcp. */
export type TransferBackendChoice = 'auto' | 'ucx' | 'tcp';

/** --transfer-backend (or TANDEM_TRANSFER_BACKEND): auto (default), ucx or tcp. */
export function transferBackendOption(flag: string | undefined): TransferBackendChoice {
  const value = flag ?? (process.env.TANDEM_TRANSFER_BACKEND || 'auto');
  if (value !== 'auto' && value !== 'ucx' && value !== 'tcp') {
    throw new CliError(`--transfer-backend must be auto, ucx or tcp, got '${value}'${flag === undefined ? ' (from TANDEM_TRANSFER_BACKEND)' : ''}`);
  }
  return value;
}

export function quantizationOption(flag: string | undefined): Quantization {
  try {
    return parseQuantization(flag ?? (process.env.TANDEM_QUANTIZATION || undefined));
  } catch (e) {
    throw new CliError((e as Error).message + (flag === undefined ? ' (from TANDEM_QUANTIZATION)' : ''));
  }
}
