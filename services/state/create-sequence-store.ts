import { MemorySequenceStore } from './memory-store.js';
import type { RedisConnectionOptions } from './redis-connection.js';
import { RedisSequenceStore, type RedisSequenceStoreOptions } from './redis-store.js';
import type { SequenceStore, SequenceStoreOptions } from './types.js';

export type CreateSequenceStoreOptions = SequenceStoreOptions & RedisConnectionOptions & Pick<RedisSequenceStoreOptions, 'atRestKey' | 'onTamper'>;

/**
 * No URL (or `memory:`) → in-process store; `redis://…` / `rediss://…` → Redis, reconnecting
 * forever once up, failing with a StoreConnectionError naming the URL if the first connection
 * is not ready within `connectTimeoutMs`.
 */
export async function createSequenceStore(url?: string, options: CreateSequenceStoreOptions = {}): Promise<SequenceStore> {
  if (url === undefined || url === '' || url === 'memory:' || url === 'memory://') return new MemorySequenceStore(options);
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'redis' || scheme === 'rediss') return await RedisSequenceStore.connect(url, options);
  throw new TypeError(`sequence store URL must be redis://, rediss:// or memory:, got scheme ${scheme ?? '(none)'}`);
}
