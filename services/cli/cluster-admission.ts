import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { RedisKeyLimits } from '../state/admission/redis-key-limits.js';
import { RedisClusterSlots } from '../state/admission/redis-slots.js';
import { connectRedis, redactUrl } from '../state/redis-connection.js';

/**
 * The gateway's share of the cluster-wide admission bound: a Redis connection (the routers'
 * Redis; TANDEM_REDIS_* TLS and password files apply) and this process's holder of the slots of
 * `cluster`'s `model`. Fails at start if Redis does not answer, as the router does.
 */
export async function openClusterAdmission(
  url: string,
  o: { cluster?: string; model: string; limit: number },
  log: (m: string) => void,
): Promise<{ slots: RedisClusterSlots; keyLimits: RedisKeyLimits; close(): Promise<void> }> {
  const client = await connectRedis(url, { onError: () => undefined });
  const holder = `gateway-${os.hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`.replaceAll('|', '-');
  const prefix = `tandem:{${o.cluster ?? 'default'}}:admission`;
  const slots = new RedisClusterSlots(client, { holder, limit: o.limit, prefix: `${prefix}:${o.model}` });
  // API keys' rpm= / concurrency= limits, counted for the whole cluster (any model); the empty
  // segment keeps their keys apart from any model's bound (tandem:{c}:admission::key:…).
  const keyLimits = new RedisKeyLimits(client, { holder, prefix: `${prefix}:` });
  log(`[tandem] admission: ${o.limit} requests running or waiting across every gateway of cluster '${o.cluster ?? 'default'}' (shared through ${redactUrl(url)})`);
  return {
    slots,
    keyLimits,
    async close() {
      await slots.close();
      await keyLimits.close();
      await client.quit().catch(() => client.disconnect());
    },
  };
}
