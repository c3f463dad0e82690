import type { KvLayout } from '../../kernels/ts/index.js';
import type { QuantRotation, Quantization } from './quantization.js';
import type { RegionDescriptor } from './region.js';

export type WorkerRole = 'prefill-vision' | 'prefill-text' | 'decode-text' | 'unified';
export const WORKER_ROLES: readonly WorkerRole[] = ['prefill-vision', 'prefill-text', 'decode-text', 'unified'];

/** What a worker publishes in the registry bucket (refreshed every second, expires after a few). */
export interface WorkerRecord {
  id: string;
  role: WorkerRole;
  model: string;
  /** host:port of its gRPC Worker service. */
  grpc: string;
  /** Where prefill workers write KV for it (decode-capable roles). */
  region?: RegionDescriptor;
  layout: KvLayout;
  /** Prefill workers of VL models: where Prefill-Vision workers write image embeddings for them. */
  embRegion?: RegionDescriptor;
  load: { running: number; waiting: number; kvUsage: number; freeBlocks: number; preemptions?: number; prefixQueriedTokens?: number; prefixHitTokens?: number };
  startedAtMs: number;
  /** Weight-only quantization of its text model (absent = none); P/D pairs must match. */
  quantization?: Quantization;
  /** How its quantized matrices were rotated (absent = none); P/D pairs must match. */
  quantRotation?: QuantRotation;
  /**
   * Group size, zero points and LM head bits of its quantized matrices (`quantLayout`, e.g. "g32-zp-p16-head8");
   * absent = what its scheme meant before layouts were registered (`legacyQuantLayout`). P/D pairs must match.
   */
  quantLayout?: string;
  /**
   * The kernels' instruction set (`avx512`, `avx2`, `avx512bf16`, ...): the determinism contract
   * holds within one, so P/D pairs must match (a prefill's KV is only the decode worker's own
   * when both computed it the same way).
   */
  isa?: string;
}

export const REGISTRY_BUCKET = 'tandem_v1_registry';
/** What a cluster name may be: it becomes part of a NATS bucket name. */
export const CLUSTER_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The registry bucket of a named cluster: clusters sharing one NATS see only their own workers
 * (worker ids are unique, so the per-worker subjects never collide). No name = the default one.
 */
export function registryBucket(cluster?: string): string {
  if (cluster === undefined || cluster === '') return REGISTRY_BUCKET;
  if (!CLUSTER_NAME.test(cluster)) throw new RangeError(`cluster name '${cluster}' must be 1-64 letters, digits, '-' or '_'`);
  return `${REGISTRY_BUCKET}_${cluster}`;
}
export const REGISTRY_TTL_MS = 5000;
export const reserveSubject = (workerId: string) => `tandem.v1.kv.reserve.${workerId}`;
export const readySubject = (workerId: string) => `tandem.v1.kv.ready.${workerId}`;
export const kvEventsSubject = (workerId: string) => `tandem.v1.kv.events.${workerId}`;
export const embReserveSubject = (workerId: string) => `tandem.v1.emb.reserve.${workerId}`;
export const prefillAbortSubject = (workerId: string) => `tandem.v1.prefill.abort.${workerId}`;

/** Router → prefill worker when the client cancelled during a Prefill call (worker/prefill-registry.ts). */
export interface PrefillAbortRequest {
  requestId: string;
}
/** `running`: the worker stops it and frees the decode reservation itself; false: it never ran and never will. */
export interface PrefillAbortReply {
  running: boolean;
}

/** Asks a prefill worker for room for the images it has not cached yet. */
export interface EmbReserveRequest {
  requestId: string;
  images: Array<{ mmHash: string; tokenCount: number }>;
  leaseMs: number;
}
/** `cached`: mm_hashes already in its encoder cache; `slots`: where to write the others. */
export type EmbReserveReply = { leaseId: string; cached: string[]; slots: Array<{ mmHash: string; offset: number; bytes: number }> } | { error: string };

export interface ReserveRequest {
  requestId: string;
  /** The prompt as prefix caches key it (cache-key-tokens.ts): image tokens as mm_hash words. */
  cacheKeyTokens: number[];
  cacheSalt?: string;
  leaseMs: number;
}
export type ReserveReply = { leaseId: string; blockIds: number[]; cachedTokens: number } | { error: string };
export interface ReadyMessage {
  leaseId: string;
  requestId: string;
  ok: boolean;
  error?: string;
}
