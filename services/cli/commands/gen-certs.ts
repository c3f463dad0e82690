import { resolve } from 'node:path';
import { CliError } from '../cli-error.js';
import { generateCerts, opensslAvailable } from '../gen-certs.js';
import { intOption, parseCommandArgs } from '../parse.js';

const HELP = `usage: tandem gen-certs --out DIR [--hosts 127.0.0.1,localhost] [--days 365]

Writes certificates for gRPC TLS (docs/security.md) with the openssl command: a CA (ca.crt, and
its key ca.key, mode 0600, to sign more with openssl; keep it off the cluster's machines) and one
certificate with its key (tandem.crt, tandem.key, mode 0600) that every router, worker and
gateway of the cluster presents, valid as server and as client (mutual TLS) for --hosts: every
address or DNS name a router or worker is dialled at (its --host / advertised address). Give
them to each component as --grpc-tls-cert DIR/tandem.crt --grpc-tls-key DIR/tandem.key
--grpc-tls-ca DIR/ca.crt. Never overwrites a file. Prints one JSON line with the paths.`;

export async function runGenCerts(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    out: { type: 'string' },
    hosts: { type: 'string' },
    days: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (!values.out) throw new CliError(`--out DIR is required\n\n${HELP}`);
  if (!opensslAvailable()) throw new CliError('the openssl command is not on PATH (apt-get install openssl)');
  const hosts = (values.hosts ?? '127.0.0.1,localhost').split(',').map((h) => h.trim()).filter(Boolean);
  try {
    const files = generateCerts(resolve(values.out), { hosts, days: intOption(values.days, 'days', 365, 1), keepCaKey: true });
    console.log(JSON.stringify({ ...files, hosts }));
  } catch (e) {
    throw new CliError((e as Error).message);
  }
  return 0;
}
