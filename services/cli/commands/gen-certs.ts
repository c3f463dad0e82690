import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CliError } from '../cli-error.js';
import { CERT_FILES, generateCerts, opensslAvailable } from '../gen-certs.js';
import { intOption, parseCommandArgs } from '../parse.js';

const HELP = `usage: tandem gen-certs --out DIR [--hosts 127.0.0.1,localhost] [--days 365] [--if-absent] [--drop-ca-key]

Writes certificates for gRPC TLS (docs/security.md) with the openssl command: a CA (ca.crt, and
its key ca.key, mode 0600, to sign more with openssl; keep it off the cluster's machines) and one
certificate with its key (tandem.crt, tandem.key, mode 0600) that every router, worker and
gateway of the cluster presents, valid as server and as client (mutual TLS) for --hosts: every
address or DNS name a router or worker is dialled at (its --host / advertised address). Give
them to each component as --grpc-tls-cert DIR/tandem.crt --grpc-tls-key DIR/tandem.key
--grpc-tls-ca DIR/ca.crt. Never overwrites a file. Prints one JSON line with the paths.

--if-absent: when DIR already holds ca.crt, tandem.crt and tandem.key, keep them and exit 0 (what
compose's one-shot cluster-certs service runs at every up). --drop-ca-key: delete the CA key once
the certificate is signed (nothing more can be signed with that CA; nothing to steal either).`;

export async function runGenCerts(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    out: { type: 'string' },
    hosts: { type: 'string' },
    days: { type: 'string' },
    'if-absent': { type: 'boolean' },
    'drop-ca-key': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (!values.out) throw new CliError(`--out DIR is required\n\n${HELP}`);
  const dir = resolve(values.out);
  const existing = { ca: join(dir, CERT_FILES.ca), cert: join(dir, CERT_FILES.cert), key: join(dir, CERT_FILES.key) };
  if (values['if-absent'] && Object.values(existing).every((f) => existsSync(f))) {
    console.log(JSON.stringify({ ...existing, kept: true }));
    return 0;
  }
  if (!opensslAvailable()) throw new CliError('the openssl command is not on PATH (apt-get install openssl)');
  const hosts = (values.hosts ?? '127.0.0.1,localhost').split(',').map((h) => h.trim()).filter(Boolean);
  try {
    const files = generateCerts(dir, { hosts, days: intOption(values.days, 'days', 365, 1), keepCaKey: !values['drop-ca-key'] });
    console.log(JSON.stringify({ ...files, hosts }));
  } catch (e) {
    throw new CliError((e as Error).message);
  }
  return 0;
}
