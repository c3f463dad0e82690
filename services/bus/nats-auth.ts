/**
 * NATS credentials and TLS settings from the environment (never from a command line, which every
 * local user can read in `ps`). One credential at most:
 *
 *   TANDEM_NATS_CREDS_FILE      a `.creds` file (user JWT + nkey seed; NATS decentralized auth)
 *   TANDEM_NATS_NKEY_SEED_FILE  a file holding an nkey seed (`SU…`)
 *   TANDEM_NATS_USER + TANDEM_NATS_PASSWORD_FILE   user name, password in a file
 *   TANDEM_NATS_TOKEN / TANDEM_NATS_TOKEN_FILE     a token (in the variable or a file)
 *   or `nats://user:pass@host` / `nats://token@host` in the URL itself.
 *
 * TLS: a `tls://` URL, or any of TANDEM_NATS_TLS_CA_FILE (trusted CAs instead of Node's
 * defaults), TANDEM_NATS_TLS_CERT_FILE + TANDEM_NATS_TLS_KEY_FILE (client certificate).
 *
 * File and user variables may contain `{component}`, replaced by the process's component
 * (`router`, `prefill-vision`, `prefill-text`, `decode-text`, `unified`), so processes that share
 * one environment — `tandem up --cluster`'s children — each find their own credentials, e.g.
 * `TANDEM_NATS_USER={component}` and `TANDEM_NATS_PASSWORD_FILE=/run/nats/{component}.password`.
 */
import { readFileSync } from 'node:fs';
import { credsAuthenticator, nkeyAuthenticator, type Authenticator, type ConnectionOptions, type TlsOptions } from 'nats';

export const NATS_ENV = {
  credsFile: 'TANDEM_NATS_CREDS_FILE',
  nkeySeedFile: 'TANDEM_NATS_NKEY_SEED_FILE',
  user: 'TANDEM_NATS_USER',
  passwordFile: 'TANDEM_NATS_PASSWORD_FILE',
  token: 'TANDEM_NATS_TOKEN',
  tokenFile: 'TANDEM_NATS_TOKEN_FILE',
  tlsCaFile: 'TANDEM_NATS_TLS_CA_FILE',
  tlsCertFile: 'TANDEM_NATS_TLS_CERT_FILE',
  tlsKeyFile: 'TANDEM_NATS_TLS_KEY_FILE',
} as const;

/** A bad NATS credential or TLS setting: thrown before any dial, naming the variable and file. */
export class NatsConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NatsConfigError';
  }
}

export interface NatsAuth {
  options: Pick<ConnectionOptions, 'user' | 'pass' | 'token' | 'authenticator' | 'tls'>;
  /** Where the credential came from, for error messages (`the file /x (TANDEM_NATS_CREDS_FILE)`); undefined = none. */
  source?: string;
}

/**
 * The Tandem component this process runs, from its command line (`tandem router`,
 * `tandem worker --role R`): what `{component}` stands for and the reply inbox prefix.
 */
export function componentOfProcess(argv: readonly string[] = process.argv): string | undefined {
  const args = argv.slice(2);
  if (args[0] === 'router') return 'router';
  if (args[0] !== 'worker') return undefined;
  for (let i = 1; i < args.length; i++) {
    if (args[i] === '--role') return args[i + 1];
    if (args[i]!.startsWith('--role=')) return args[i]!.slice('--role='.length);
  }
  return undefined;
}

type Env = Record<string, string | undefined>;

function setting(env: Env, name: string, component: string | undefined): string | undefined {
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  if (!raw.includes('{component}')) return raw;
  if (component === undefined) throw new NatsConfigError(`${name}=${raw} names {component}, but this process is no router or worker`);
  return raw.replaceAll('{component}', component);
}

function readSetting(path: string, variable: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    throw new NatsConfigError(`cannot read the NATS ${what} ${path} (${variable}): ${why}`);
  }
}

function readSecret(path: string, variable: string, what: string): string {
  const text = readSetting(path, variable, what).toString('utf8').trim();
  if (text === '') throw new NatsConfigError(`the NATS ${what} ${path} (${variable}) is empty`);
  return text;
}

/**
 * Credentials and TLS options from `env` (and the URL's own credentials, `urlHasAuth`). Reads
 * every file now, so a missing or unreadable one is an error at start, not at the first dial.
 */
export function natsAuthFromEnv(env: Env, component: string | undefined, urlHasAuth: boolean, urlTls: boolean): NatsAuth {
  const get = (name: string) => setting(env, name, component);
  const creds = get(NATS_ENV.credsFile);
  const seed = get(NATS_ENV.nkeySeedFile);
  const user = get(NATS_ENV.user);
  const passwordFile = get(NATS_ENV.passwordFile);
  const token = env[NATS_ENV.token]?.trim() || undefined;
  const tokenFile = get(NATS_ENV.tokenFile);
  const given = [
    creds && NATS_ENV.credsFile,
    seed && NATS_ENV.nkeySeedFile,
    (user || passwordFile) && `${NATS_ENV.user}/${NATS_ENV.passwordFile}`,
    token && NATS_ENV.token,
    tokenFile && NATS_ENV.tokenFile,
    urlHasAuth && 'credentials in the NATS URL',
  ].filter((x): x is string => typeof x === 'string');
  if (given.length > 1) throw new NatsConfigError(`NATS credentials given more than once (${given.join(', ')}); set one`);

  const auth: NatsAuth = { options: {} };
  if (creds) {
    const bytes = readSetting(creds, NATS_ENV.credsFile, 'credentials file');
    if (!/-----BEGIN NATS USER JWT-----/.test(bytes.toString('utf8'))) throw new NatsConfigError(`the NATS credentials file ${creds} (${NATS_ENV.credsFile}) holds no user JWT (a .creds file from nsc or the account server)`);
    auth.options.authenticator = credsAuthenticator(new Uint8Array(bytes)) as Authenticator;
    auth.source = `the file ${creds} (${NATS_ENV.credsFile})`;
  } else if (seed) {
    const text = readSecret(seed, NATS_ENV.nkeySeedFile, 'nkey seed file');
    if (!/^SU[A-Z2-7]{56}$/.test(text)) throw new NatsConfigError(`the NATS nkey seed file ${seed} (${NATS_ENV.nkeySeedFile}) holds no user seed (one line starting with SU)`);
    auth.options.authenticator = nkeyAuthenticator(new TextEncoder().encode(text)) as Authenticator;
    auth.source = `the file ${seed} (${NATS_ENV.nkeySeedFile})`;
  } else if (user || passwordFile) {
    if (!user || !passwordFile) throw new NatsConfigError(`${NATS_ENV.user} and ${NATS_ENV.passwordFile} go together; only ${user ? NATS_ENV.user : NATS_ENV.passwordFile} is set`);
    auth.options.user = user;
    auth.options.pass = readSecret(passwordFile, NATS_ENV.passwordFile, 'password file');
    auth.source = `user '${user}' with the password in ${passwordFile} (${NATS_ENV.passwordFile})`;
  } else if (token) {
    auth.options.token = token;
    auth.source = `the token in ${NATS_ENV.token}`;
  } else if (tokenFile) {
    auth.options.token = readSecret(tokenFile, NATS_ENV.tokenFile, 'token file');
    auth.source = `the token in ${tokenFile} (${NATS_ENV.tokenFile})`;
  } else if (urlHasAuth) {
    auth.source = 'the NATS URL';
  }

  const ca = get(NATS_ENV.tlsCaFile);
  const cert = get(NATS_ENV.tlsCertFile);
  const key = get(NATS_ENV.tlsKeyFile);
  if (Boolean(cert) !== Boolean(key)) throw new NatsConfigError(`${NATS_ENV.tlsCertFile} and ${NATS_ENV.tlsKeyFile} go together; only ${cert ? NATS_ENV.tlsCertFile : NATS_ENV.tlsKeyFile} is set`);
  if (urlTls || ca || cert) {
    const tls: TlsOptions = {};
    if (ca) tls.ca = readSetting(ca, NATS_ENV.tlsCaFile, 'TLS CA file').toString('utf8');
    if (cert && key) {
      tls.cert = readSetting(cert, NATS_ENV.tlsCertFile, 'TLS certificate file').toString('utf8');
      tls.key = readSetting(key, NATS_ENV.tlsKeyFile, 'TLS key file').toString('utf8');
    }
    auth.options.tls = tls;
  }
  return auth;
}
