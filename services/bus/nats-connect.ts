import { connect, ErrorCode, NatsError, type ConnectionOptions, type NatsConnection } from 'nats';
import { BusConnectError } from './errors.js';
import { componentOfProcess, natsAuthFromEnv } from './nats-auth.js';

export interface NatsConnectOptions {
  /** How long the first connection may take, retrying refused dials, before failing (default 10 s). */
  connectTimeoutMs?: number;
  /** Pause between reconnect attempts once connected (default 1 s, plus jitter). */
  reconnectTimeWaitMs?: number;
  /** Client name shown by the server's monitoring (default `tandem-<component>`, or `tandem`). */
  name?: string;
  /**
   * Which component this is (`router`, `decode-text`, …): what `{component}` in the credential
   * variables stands for, and the reply inbox `_INBOX.<component>.` the server's subject
   * permissions expect (deploy/nats/nats-server.conf). Default: from the process's `tandem`
   * command line; none for anything else.
   */
  component?: string;
  /** Where credential and TLS variables are read (default `process.env`; see nats-auth.ts). */
  env?: Record<string, string | undefined>;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const NATS_CREDENTIAL_HINT = 'TANDEM_NATS_CREDS_FILE, TANDEM_NATS_NKEY_SEED_FILE, TANDEM_NATS_USER + TANDEM_NATS_PASSWORD_FILE or TANDEM_NATS_TOKEN(_FILE)';
const DEFAULT_RECONNECT_TIME_WAIT_MS = 1_000;
const FIRST_CONNECT_RETRY_MS = 250;

interface ParsedServers {
  servers: string[];
  /** The URL(s) without credentials, for messages and logs. */
  display: string;
  auth: Pick<ConnectionOptions, 'user' | 'pass' | 'token'>;
  tls: boolean;
  /** The URL carries a user, password or token. */
  hasAuth: boolean;
}

/**
 * `nats://[user:pass@|token@]host:port[,nats://host2:port]`; `tls://` requires TLS. Credentials
 * in the URL become connect options so they never show up in errors.
 */
export function parseNatsUrl(url: string): ParsedServers {
  const servers: string[] = [];
  const auth: ParsedServers['auth'] = {};
  let tls = false;
  for (const part of url.split(',').map((s) => s.trim()).filter(Boolean)) {
    let u: URL;
    try {
      u = new URL(part);
    } catch {
      throw new TypeError(`invalid NATS URL '${redact(part)}'`);
    }
    if (u.protocol !== 'nats:' && u.protocol !== 'tls:') {
      throw new TypeError(`NATS URL '${redact(part)}' must start with nats:// or tls://`);
    }
    if (!u.hostname) throw new TypeError(`NATS URL '${redact(part)}' has no host`);
    if (u.protocol === 'tls:') tls = true;
    const user = decodeURIComponent(u.username);
    const pass = decodeURIComponent(u.password);
    if (user && pass) Object.assign(auth, { user, pass });
    else if (user) auth.token = user;
    servers.push(`${u.hostname.includes(':') ? `[${u.hostname}]` : u.hostname}:${u.port || '4222'}`);
  }
  if (servers.length === 0) throw new TypeError('NATS URL is empty');
  return { servers, display: redact(url), auth, tls, hasAuth: Object.keys(auth).length > 0 };
}

function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/g, '//***@');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function isAuthFailure(err: unknown): boolean {
  return err instanceof NatsError && (err.code === ErrorCode.AuthorizationViolation || err.code === ErrorCode.BadAuthentication || err.code === ErrorCode.AuthenticationExpired);
}

/** Node's TLS verification failures (an untrusted, expired or misnamed server certificate). */
function isCertificateError(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME/.test(code);
}

/** Authentication, authorization and certificate failures will not heal by retrying. */
function isFatal(err: unknown): boolean {
  return (
    isCertificateError(err) ||
    err instanceof NatsError &&
    (err.code === ErrorCode.AuthorizationViolation ||
      err.code === ErrorCode.BadAuthentication ||
      err.code === ErrorCode.AuthenticationExpired ||
      err.code === ErrorCode.Tls ||
      err.code === ErrorCode.ServerOptionNotAvailable)
  );
}

/**
 * Connects once the server answers, retrying refused dials until connectTimeoutMs so a process
 * may start before NATS does. Once connected the client reconnects forever (subscriptions are
 * re-sent and publishes buffered while the server is away).
 */
export async function connectNats(url: string, opts: NatsConnectOptions = {}): Promise<NatsConnection> {
  const parsed = parseNatsUrl(url);
  const component = opts.component ?? componentOfProcess();
  // Files are read (and missing ones reported) before any dial.
  const auth = natsAuthFromEnv(opts.env ?? process.env, component, parsed.hasAuth, parsed.tls);
  const timeoutMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const base: ConnectionOptions = {
    servers: parsed.servers,
    name: opts.name ?? (component ? `tandem-${component}` : 'tandem'),
    ...parsed.auth,
    ...auth.options,
    // Replies (and JetStream answers) come back on _INBOX.<component>.…, which subject
    // permissions can give to that component alone.
    ...(component ? { inboxPrefix: `_INBOX.${component}` } : {}),
    maxReconnectAttempts: -1,
    reconnectTimeWait: opts.reconnectTimeWaitMs ?? DEFAULT_RECONNECT_TIME_WAIT_MS,
    reconnectJitter: 100,
    // Detect a silently dead server in ~15 s rather than the client default of minutes.
    pingInterval: 5_000,
    maxPingOut: 3,
  };
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    try {
      return await connect({ ...base, timeout: Math.max(100, remaining) });
    } catch (err) {
      lastError = err;
      if (isFatal(err)) break;
    }
    await sleep(Math.min(FIRST_CONNECT_RETRY_MS, Math.max(0, deadline - Date.now())));
  }
  const reason = lastError instanceof Error ? lastError.message : String(lastError);
  if (isAuthFailure(lastError)) {
    const message = auth.source
      ? `NATS at ${parsed.display} refused the credentials in ${auth.source}: ${reason.toLowerCase()}`
      : `NATS at ${parsed.display} requires credentials (${reason.toLowerCase()}): set ${NATS_CREDENTIAL_HINT}`;
    throw new BusConnectError(parsed.display, message, { cause: lastError });
  }
  if (isCertificateError(lastError)) {
    throw new BusConnectError(parsed.display, `NATS at ${parsed.display} presented a certificate this client does not trust: ${reason} (TANDEM_NATS_TLS_CA_FILE names the CA to trust)`, { cause: lastError });
  }
  if (lastError instanceof NatsError && lastError.code === ErrorCode.Tls) {
    throw new BusConnectError(parsed.display, `TLS with NATS at ${parsed.display} failed: ${reason} (a tls:// URL or TANDEM_NATS_TLS_CA_FILE; the server must have TLS on)`, { cause: lastError });
  }
  throw new BusConnectError(parsed.display, `could not connect to NATS at ${parsed.display} within ${timeoutMs} ms: ${reason}`, {
    cause: lastError,
  });
}
