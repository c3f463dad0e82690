import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { burstOf, type ClusterKeyLimits, type KeyLimitGrant, type KeyLimitRefusal, type KeyLimits } from '../../protocol/cluster-key-limits.js';
import { LuaScript } from '../redis-script.js';
import { DEFAULT_HOLDER_TTL_MS } from './types.js';

/*
 * Per API key (keyId: a digest of the key), under one hash tag with the admission bound's keys:
 *   <prefix>:key:<keyId>:slots   sorted set, every score 0, members "<holder>|<slot id>": the
 *                                key's choices in flight, cluster-wide (ZCARD)
 *   <prefix>:key:<keyId>:bucket  hash tokens, at (ms, Redis's clock): the key's rpm token bucket
 *   <prefix>:keys:live           hash holder → liveness expiry (ms), one for every key
 * Time is Redis's (TIME), so gateways with skewed clocks share one bucket. A key's acquire first
 * drops the slots of holders whose liveness ran out or is gone (a gateway killed -9), looking only
 * at the holders in that key's own set (a few gateways at most). One script, one round trip:
 * sweep, check concurrency, check and take a token, take the slots — all or nothing.
 */
const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

const SWEEP = `
local function sweep(slots, live, now)
  local seen = {}
  for _, m in ipairs(redis.call('ZRANGE', slots, 0, -1)) do
    local h = string.match(m, '^(.*)|[^|]*$')
    if h and seen[h] == nil then
      seen[h] = (tonumber(redis.call('HGET', live, h)) or 0) >= now
      if not seen[h] then redis.call('ZREMRANGEBYLEX', slots, '[' .. h .. '|', '[' .. h .. '|\\255') end
    end
  end
  return redis.call('ZCARD', slots)
end
`;

// KEYS: slots, bucket, live. ARGV: holder, ttl ms, max concurrent (-1: none), n, rpm (0: none),
// burst, then n slot ids. Reply: {1, inFlight, tokens*1000, resetMs} or {0, 1|2, inFlight, retryMs}.
const ACQUIRE = new LuaScript('key-limits-acquire', `${NOW}${SWEEP}
local slots, bucket, live = KEYS[1], KEYS[2], KEYS[3]
local me, ttl, maxc, n, rpm, burst = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
redis.call('HSET', live, me, now + ttl)
local inflight = sweep(slots, live, now)
if maxc >= 0 and inflight + n > maxc then return {0, 1, inflight, 1000} end
local tokens, reset = 0, 0
if rpm > 0 then
  tokens = burst
  local b = redis.call('HMGET', bucket, 'tokens', 'at')
  if b[1] then tokens = math.min(burst, tonumber(b[1]) + (now - tonumber(b[2])) * rpm / 60000) end
  if tokens < 1 then return {0, 2, inflight, math.ceil((1 - tokens) * 60000 / rpm)} end
  tokens = tokens - 1
  reset = math.ceil((burst - tokens) * 60000 / rpm)
  redis.call('HSET', bucket, 'tokens', string.format('%.6f', tokens), 'at', now)
  redis.call('PEXPIRE', bucket, reset + 1000)
end
if maxc >= 0 then
  for i = 7, 6 + n do redis.call('ZADD', slots, 0, me .. '|' .. ARGV[i]) end
  -- Longer than any request may run: a set left by a dead gateway and never acquired again goes.
  redis.call('PEXPIRE', slots, 86400000)
end
return {1, inflight + (maxc >= 0 and n or 0), math.floor(tokens * 1000), reset}
`);

// KEYS: bucket. ARGV: burst. A refused-later request's token back (never above the burst).
const REFUND = new LuaScript('key-limits-refund', `
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
if b[1] then redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', math.min(tonumber(ARGV[1]), tonumber(b[1]) + 1))) end
`);

const IN_FLIGHT = new LuaScript('key-limits-in-flight', `${NOW}${SWEEP}
return sweep(KEYS[1], KEYS[2], now)
`);

const REFRESH = new LuaScript('key-limits-refresh', `${NOW}
redis.call('HSET', KEYS[1], ARGV[1], now + tonumber(ARGV[2]))
`);

export interface RedisKeyLimitsOptions {
  /** This gateway's id (unique per process; no '|'). */
  holder: string;
  /** Key prefix under the cluster's admission keys, e.g. tandem:{cluster}:admission: (then …::key:<id>:slots). */
  prefix: string;
  /** How long a holder's slots outlive its last liveness refresh. Default 10 s. */
  holderTtlMs?: number;
}

export class RedisKeyLimits implements ClusterKeyLimits {
  private readonly ttlMs: number;
  private readonly live: string;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly client: Redis,
    private readonly o: RedisKeyLimitsOptions,
  ) {
    if (o.holder.includes('|')) throw new TypeError(`a key-limits holder id may not contain '|': ${o.holder}`);
    this.ttlMs = o.holderTtlMs ?? DEFAULT_HOLDER_TTL_MS;
    this.live = `${o.prefix}:keys:live`;
    const refresh = () => void REFRESH.run(this.client, [this.live], [o.holder, String(this.ttlMs)]).catch(() => undefined);
    refresh();
    this.timer = setInterval(refresh, Math.max(10, this.ttlMs / 3));
    this.timer.unref();
  }

  async tryAcquire(keyId: string, limits: KeyLimits, n: number): Promise<KeyLimitGrant | KeyLimitRefusal> {
    const [slots, bucket] = this.keysOf(keyId);
    const rpm = limits.requestsPerMinute ?? 0;
    const burst = rpm > 0 ? burstOf(rpm) : 0;
    const counted = limits.maxConcurrent !== undefined;
    const ids = counted ? Array.from({ length: n }, () => randomUUID()) : [];
    const args = [this.o.holder, String(this.ttlMs), String(limits.maxConcurrent ?? -1), String(n), String(rpm), String(burst), ...ids];
    const [ok, a, b, c] = (await ACQUIRE.run(this.client, [slots, bucket, this.live], args)) as [number, number, number, number];
    if (ok !== 1) return { granted: false, limit: a === 1 ? 'concurrency' : 'rpm', inFlight: b, retryAfterSeconds: Math.max(1, Math.ceil(c / 1000)) };
    let released = false;
    // Queued by the client while Redis is away (offline queue): a release is never lost.
    const release = () => {
      if (released) return;
      released = true;
      if (ids.length) void this.client.zrem(slots, ...ids.map((id) => `${this.o.holder}|${id}`)).catch(() => undefined);
    };
    const refund = () => {
      if (released) return;
      release();
      if (rpm > 0) void REFUND.run(this.client, [bucket], [String(burst)]).catch(() => undefined);
    };
    if (rpm === 0) return { granted: true, release, refund };
    return { granted: true, release, refund, state: { limitRequests: rpm, remainingRequests: Math.floor(b / 1000), resetSeconds: Math.ceil(c / 1000) } };
  }

  async inFlight(keyId: string): Promise<number> {
    return Number(await IN_FLIGHT.run(this.client, [this.keysOf(keyId)[0], this.live], []));
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
  }

  private keysOf(keyId: string): [string, string] {
    return [`${this.o.prefix}:key:${keyId}:slots`, `${this.o.prefix}:key:${keyId}:bucket`];
  }
}
