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
import { Redis } from 'ioredis';
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
  const client = new Redis(url, {
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
