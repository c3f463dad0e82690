import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { createSecretFile, readSecretFile } from '../../common/security/secret-file.js';
import { CliError } from '../cli-error.js';
import { parseCommandArgs } from '../parse.js';

const HELP = `usage: tandem gen-secret --out FILE [--if-absent] [--group-readable]

Writes a new cluster secret (32 random bytes as 64 hex digits) to FILE, readable by its owner
only (mode 0600), for --cluster-secret-file / TANDEM_CLUSTER_SECRET_FILE of every router,
worker and gateway of one cluster (docs/security.md). It never overwrites a file: with
--if-absent an existing secret file is checked and kept (what compose's one-shot secret service
does on every start), otherwise an existing FILE is an error. Prints one JSON line
{"secret_file","created"}; never the secret. --group-readable writes it mode 0640 instead: a
metrics key (--metrics-api-key-file) that Prometheus, in the owner's group, reads too.`;

export async function runGenSecret(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    out: { type: 'string' },
    'if-absent': { type: 'boolean' },
    'group-readable': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (!values.out) throw new CliError(`--out FILE is required\n\n${HELP}`);
  const path = resolve(values.out);
  if (existsSync(path)) {
    if (!values['if-absent']) throw new CliError(`${path} exists; a secret is never overwritten (remove it, or pass --if-absent to keep it)`);
    // Kept only if it is a usable secret: a truncated or empty file would fail every component later.
    try {
      readSecretFile(path);
    } catch (e) {
      throw new CliError((e as Error).message);
    }
    console.log(JSON.stringify({ secret_file: path, created: false }));
    return 0;
  }
  createSecretFile(path, values['group-readable'] ? 0o640 : 0o600);
  console.log(JSON.stringify({ secret_file: path, created: true }));
  return 0;
}
