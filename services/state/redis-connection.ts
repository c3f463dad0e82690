/**
 * Opens the ioredis client behind the Redis sequence store. Policy:
 *  - reconnect forever with capped exponential backoff (retryStrategy never gives up);
 *  - `maxRetriesPerRequest: null` + the offline queue: while Redis restarts, commands wait and are
 *    sent on reconnect instead of failing (in-flight requests keep streaming, DESIGN §8);
 *  - READONLY replies (a demoted primary after failover) reconnect and resend;
 *  - but the FIRST connection must come up within `connectTimeoutMs`, otherwise opening fails
 *    with a StoreConnectionError naming the URL (password redacted), so a typo in the URL is a
 *    startup error rather than a silent hang.
 */
import { readFileSync } from 'node:fs';
import { Redis, type RedisOptions } from 'ioredis';
import { StoreConnectionError } from './errors.js';

export interface RedisConnectionOptions {
  /** Deadline for the first connection. Default 5000 ms. */
  connectTimeoutMs?: number;
  /** First reconnect delay; doubles per attempt. Default 50 ms. */
  retryBaseMs?: number;
  /**
   * Reconnect delay cap. Default 500 ms: how late records resume after Redis is back (a dial to a
   * server that is down costs next to nothing).
   */
  retryMaxMs?: number;
  /** Connection errors after startup (the client keeps reconnecting); default: ignored. */
  onError?: (err: Error) => void;
  /** Where TLS and password-file variables are read (default `process.env`). */
  env?: Record<string, string | undefined>;
}

function readSetting(path: string, variable: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new TypeError(`cannot read the Redis ${what} ${path} (${variable}): ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (e as Error).message}`);
  }
}

/**
 * TLS and credentials beyond the URL, from the environment (never a command line):
 * TANDEM_REDIS_TLS_CA_FILE (CAs to trust instead of Node's defaults), TANDEM_REDIS_TLS_CERT_FILE +
 * TANDEM_REDIS_TLS_KEY_FILE (client certificate) — all need a `rediss://` URL — and
 * TANDEM_REDIS_PASSWORD_FILE (with TANDEM_REDIS_USER for an ACL user) instead of a password in
 * the URL. Files are read now: a missing one is an error at start.
 */
export function redisSecurityOptions(url: string, env: Record<string, string | undefined> = process.env): Partial<RedisOptions> {
  const get = (name: string) => env[name]?.trim() || undefined;
  const ca = get('TANDEM_REDIS_TLS_CA_FILE');
  const cert = get('TANDEM_REDIS_TLS_CERT_FILE');
  const key = get('TANDEM_REDIS_TLS_KEY_FILE');
  const passwordFile = get('TANDEM_REDIS_PASSWORD_FILE');
  const user = get('TANDEM_REDIS_USER');
  const tlsUrl = /^rediss:/i.test(url);
  const out: Partial<RedisOptions> = {};
  if ((ca || cert || key) && !tlsUrl) throw new TypeError(`TANDEM_REDIS_TLS_* is set but the Redis URL ${redactUrl(url)} is not rediss:// (TLS)`);
  if (Boolean(cert) !== Boolean(key)) throw new TypeError('TANDEM_REDIS_TLS_CERT_FILE and TANDEM_REDIS_TLS_KEY_FILE go together');
  if (tlsUrl) {
    out.tls = {
      ...(ca ? { ca: readSetting(ca, 'TANDEM_REDIS_TLS_CA_FILE', 'TLS CA file') } : {}),
      ...(cert && key ? { cert: readSetting(cert, 'TANDEM_REDIS_TLS_CERT_FILE', 'TLS certificate file'), key: readSetting(key, 'TANDEM_REDIS_TLS_KEY_FILE', 'TLS key file') } : {}),
    };
  }
  if (user && !passwordFile) throw new TypeError('TANDEM_REDIS_USER needs TANDEM_REDIS_PASSWORD_FILE');
  if (passwordFile) {
    let u: URL | undefined;
    try {
      u = new URL(url);
    } catch {
      u = undefined;
    }
    if (u && (u.password !== '' || u.username !== '')) throw new TypeError('Redis credentials given twice: in the URL and in TANDEM_REDIS_PASSWORD_FILE');
    const password = readSetting(passwordFile, 'TANDEM_REDIS_PASSWORD_FILE', 'password file').trim();
    if (password === '') throw new TypeError(`the Redis password file ${passwordFile} (TANDEM_REDIS_PASSWORD_FILE) is empty`);
    out.password = password;
    if (user) out.username = user;
  }
  return out;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 5000;

/** Delay before reconnect attempt `attempt` (1-based): base · 2^(attempt-1), capped. */
export function reconnectDelayMs(attempt: number, baseMs = 50, maxMs = 500): number {
  return Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
}

/** The URL with any password replaced, fit for error messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//***@');
  }
}

export async function connectRedis(url: string, options: RedisConnectionOptions = {}): Promise<Redis> {
  const timeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const security = redisSecurityOptions(url, options.env);
  const client = new Redis(url, {
    ...security,
    maxRetriesPerRequest: null,
    enableOfflineQueue: true,
    retryStrategy: (attempt) => reconnectDelayMs(attempt, options.retryBaseMs, options.retryMaxMs),
    reconnectOnError: (err) => (err.message.startsWith('READONLY') ? 2 : false),
    connectTimeout: Math.min(timeoutMs, 10_000),
  });
  let lastError: Error | undefined;
  // Always listen: an 'error' event without a listener would be logged as unhandled by ioredis.
  client.on('error', (err: Error) => {
    lastError = err;
    options.onError?.(err);
  });
  if (client.status === 'ready') return client;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      client.disconnect(); // stops the reconnect loop
      const why = lastError === undefined ? '' : ` (last error: ${lastError.message})`;
      reject(new StoreConnectionError(redactUrl(url), `Redis not ready within ${timeoutMs} ms${why}`, { cause: lastError }));
    }, timeoutMs);
    const onReady = (): void => {
      clearTimeout(timer);
      resolve();
    };
    client.once('ready', onReady);
  });
  return client;
}
