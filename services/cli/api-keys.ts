import { loadApiKeys, type ApiKey } from '../gateway/auth.js';
import { CliError } from './cli-error.js';

/** `--api-key` and `--api-keys-file` (or their TANDEM_* variables) as the gateway's key list. */
export function gatewayApiKeys(apiKey: string | undefined, file: string | undefined): ApiKey[] {
  try {
    return loadApiKeys({ apiKey, file });
  } catch (e) {
    throw new CliError(`API keys: ${(e as Error).message}`);
  }
}
