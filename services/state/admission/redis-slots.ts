import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { LuaScript } from '../redis-script.js';
import { DEFAULT_HOLDER_TTL_MS, grantOnce, type ClusterSlots, type ClusterSlotsOptions, type SlotGrant, type SlotRefusal } from './types.js';

/*
 * Two keys per bound (one hash tag, so they live on one node):
 *   <prefix>:slots  sorted set, every score 0, members "<holder>|<slot id>" (ZCARD = slots held;
 *                   a holder's members are one lexicographic range)
 *   <prefix>:live   hash holder → liveness expiry (ms since epoch)
 * Every acquire first frees the slots of holders whose liveness ran out (a gateway killed -9).
 */
const SWEEP = `
local slots, live = KEYS[1], KEYS[2]
local now, me = tonumber(ARGV[1]), ARGV[2]
local entries = redis.call('HGETALL', live)
for i = 1, #entries, 2 do
  local holder, expiry = entries[i], tonumber(entries[i + 1])
  if holder ~= me and expiry < now then
    redis.call('ZREMRANGEBYLEX', slots, '[' .. holder .. '|', '[' .. holder .. '|\\255')
    redis.call('HDEL', live, holder)
  end
end
`;

const ACQUIRE = new LuaScript('admission-acquire', `${SWEEP}
local limit, n, ttl = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
redis.call('HSET', live, me, now + ttl)
local held = redis.call('ZCARD', slots)
if held + n > limit then return {0, held} end
for i = 6, 5 + n do redis.call('ZADD', slots, 0, me .. '|' .. ARGV[i]) end
return {1, held + n}
`);

const HELD = new LuaScript('admission-held', `${SWEEP}
return redis.call('ZCARD', slots)
`);

const REFRESH = new LuaScript('admission-refresh', `
redis.call('HSET', KEYS[2], ARGV[1], tonumber(ARGV[2]))
`);

export interface RedisClusterSlotsOptions extends ClusterSlotsOptions {
  /** Key prefix naming the bound, e.g. tandem:{cluster}:admission:<model>. */
  prefix: string;
  now?: () => number;
}

export class RedisClusterSlots implements ClusterSlots {
  readonly limit: number;
  private readonly keys: [string, string];
  private readonly ttlMs: number;
  private readonly timer: NodeJS.Timeout;
  private readonly now: () => number;

  constructor(
    private readonly client: Redis,
    private readonly o: RedisClusterSlotsOptions,
  ) {
    if (o.holder.includes('|')) throw new TypeError(`an admission holder id may not contain '|': ${o.holder}`);
    this.limit = o.limit;
    this.ttlMs = o.holderTtlMs ?? DEFAULT_HOLDER_TTL_MS;
    this.now = o.now ?? Date.now;
    this.keys = [`${o.prefix}:slots`, `${o.prefix}:live`];
    const refresh = () => void REFRESH.run(this.client, this.keys, [o.holder, String(this.now() + this.ttlMs)]).catch(() => undefined);
    refresh();
    this.timer = setInterval(refresh, Math.max(10, this.ttlMs / 3));
    this.timer.unref();
  }

  async tryAcquire(n: number): Promise<SlotGrant | SlotRefusal> {
    const ids = Array.from({ length: n }, () => randomUUID());
    const reply = (await ACQUIRE.run(this.client, this.keys, [String(this.now()), this.o.holder, String(this.limit), String(n), String(this.ttlMs), ...ids])) as [number, number];
    if (reply[0] !== 1) return { granted: false, held: reply[1] };
    // Queued by the client while Redis is away (offline queue): a release is never lost.
    return grantOnce(() => void this.client.zrem(this.keys[0], ...ids.map((id) => `${this.o.holder}|${id}`)).catch(() => undefined));
  }

  async held(): Promise<number> {
    return Number(await HELD.run(this.client, this.keys, [String(this.now()), this.o.holder]));
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
  }
}
