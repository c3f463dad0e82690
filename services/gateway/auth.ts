import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { apiError } from '../common/errors/index.js';
import type { KeyLimits } from './key-limits.js';

/** One accepted API key and whom it belongs to. */
export interface ApiKey {
  key: string;
  /** Tenant id: prefix-cache entries are kept per tenant (see prefixCacheSalt). */
  tenant: string;
  /** Opt-in: this key's requests share prefix-cache entries with every other sharing key. */
  sharePrefixCache?: boolean;
  /** This key's own request rate and concurrency (absent: only the server's queue bound). */
  limits?: KeyLimits;
}

/**
 * Checks `Authorization: Bearer <key>` against the configured keys (constant-time compare of
 * every key, so the time does not tell which one nearly matched). Answers the matching key;
 * undefined when the server has no keys (open).
 */
export function checkApiKey(header: string | undefined, keys: readonly ApiKey[]): ApiKey | undefined {
  if (keys.length === 0) return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
  if (!m) throw apiError('invalid_api_key', 'Missing API key: send it as "Authorization: Bearer <key>".');
  const given = Buffer.from(m[1]!.trim());
  let found: ApiKey | undefined;
  for (const k of keys) {
    const want = Buffer.from(k.key);
    if (want.length === given.length && timingSafeEqual(want, given)) found ??= k;
  }
  if (!found) throw apiError('invalid_api_key', 'Incorrect API key provided.');
  return found;
}

/** A separate key for /metrics and /ready (scrapers and probes), when one is configured. */
export function checkMetricsKey(header: string | undefined, key: string | undefined): void {
  if (!key) return;
  checkApiKey(header, [{ key, tenant: 'metrics' }]);
}

/**
 * The salt mixed into a request's prefix-cache block hashes: its tenant's id, so one tenant's
 * cached prompts can never make another's `cached_tokens` (or its time to first token) reveal
 * them, plus the request's own `cache_salt` (vLLM's parameter) to split further. Keys that opt in
 * to sharing (and an open server) salt with `cache_salt` alone.
 */
export function prefixCacheSalt(key: ApiKey | undefined, cacheSalt: string | undefined): string | undefined {
  const own = cacheSalt === undefined || cacheSalt === '' ? undefined : `s:${cacheSalt}`;
  if (!key || key.sharePrefixCache) return own;
  return own === undefined ? `t:${key.tenant}` : `t:${key.tenant}\u0000${own}`;
}

/**
 * API keys from the command line / environment: `--api-key KEY` (tenant "default"), and an API
 * keys file of lines `KEY TENANT [share-prefix-cache] [rpm=N] [concurrency=N]` (blank lines and
 * `#` comments ignored): `rpm` requests per minute and `concurrency` choices at once for that key.
 * Errors name the line so an operator can fix the file.
 */
export function loadApiKeys(o: { apiKey?: string; file?: string }): ApiKey[] {
  const keys: ApiKey[] = [];
  if (o.apiKey) keys.push({ key: o.apiKey, tenant: 'default' });
  if (o.file) {
    const lines = readFileSync(o.file, 'utf8').split('\n');
    lines.forEach((raw, i) => {
      const line = raw.replace(/#.*/, '').trim();
      if (!line) return;
      const [key, tenant, ...options] = line.split(/\s+/);
      const where = `${o.file}:${i + 1}`;
      if (!key || !tenant) throw new Error(`${where}: expected "KEY TENANT [share-prefix-cache] [rpm=N] [concurrency=N]"`);
      if (key.length < 8) throw new Error(`${where}: an API key must have at least 8 characters`);
      if (keys.some((k) => k.key === key)) throw new Error(`${where}: this API key is listed twice`);
      keys.push({ key, tenant, ...keyOptions(options, where) });
    });
    if (keys.length === 0) throw new Error(`${o.file}: no API keys in the file`);
  }
  return keys;
}

function keyOptions(options: string[], where: string): Pick<ApiKey, 'sharePrefixCache' | 'limits'> {
  const out: Pick<ApiKey, 'sharePrefixCache' | 'limits'> = {};
  const limits: KeyLimits = {};
  for (const opt of options) {
    const m = /^(rpm|concurrency)=(.*)$/.exec(opt);
    if (opt === 'share-prefix-cache') out.sharePrefixCache = true;
    else if (m) {
      const v = Number(m[2]);
      if (!Number.isInteger(v) || v < 1) throw new Error(`${where}: ${m[1]} must be a positive integer, got "${m[2]}"`);
      if (m[1] === 'rpm') limits.requestsPerMinute = v;
      else limits.maxConcurrent = v;
    } else {
      throw new Error(`${where}: unknown option "${opt}" (expected share-prefix-cache, rpm=N or concurrency=N)`);
    }
  }
  if (Object.keys(limits).length > 0) out.limits = limits;
  return out;
}
