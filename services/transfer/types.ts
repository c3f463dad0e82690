/**
 * The transfer engine contract (DESIGN.md §5): a receiver registers its KV pool (or embedding
 * buffer) once and publishes the region's descriptor; senders write ranges of their own memory
 * into it with one-sided puts. Three backends implement it: `ucx` (native, RDMA / shared memory /
 * TCP as UCX chooses), `tcp` (pure Node sockets) and `local` (memcpy inside one process).
 */
import type { UcxWorkerOptions } from '../../kernels/ts/ucx.js';

import type { RegionDescriptor, TransferBackend } from '../protocol/region.js';

export type { RegionDescriptor, TransferBackend };


export interface WriteOp {
  localOffset: number;
  remoteOffset: number;
  length: number;
}

export interface TransferStats {
  backend: TransferBackend;
  /** Bytes written by successful puts. */
  bytes: number;
  /** Sum of the durations of successful puts. */
  seconds: number;
  /** Successful puts. */
  transfers: number;
  /** Ranges handed to the wire after coalescing (successful puts). */
  ops: number;
  /** Ranges the callers asked for before coalescing (successful puts). */
  requestedOps: number;
  /** Puts that failed. */
  failures: number;
}

export interface PutResult {
  bytes: number;
  seconds: number;
  /** Ranges actually issued after coalescing. */
  ops: number;
}

/** One finished put, for metrics and traces (bytes, duration, backend). */
export interface TransferRecord {
  backend: TransferBackend;
  regionId: string;
  bytes: number;
  seconds: number;
  ops: number;
  requestedOps: number;
  ok: boolean;
  error?: string;
}

/** One range a put wants to write into a guarded region (receiver side). */
export interface GuardedRange {
  offset: number;
  length: number;
}

/**
 * Receiver-side admission of a put into a region: given the grant the sender presented (the
 * lease id the receiver handed out when it reserved the blocks) and every range the put would
 * write, returns undefined to accept it or the reason it is refused (nothing is then written).
 * Called before any byte of the put lands.
 */
export type PutGuard = (grant: string | undefined, ranges: readonly GuardedRange[]) => string | undefined;

export interface RegionOptions {
  /**
   * Only puts this accepts are written (tcp, local). ucx cannot honour it: one-sided RMA puts
   * never reach the receiver's CPU (see `enforcesGrants`, docs/security.md).
   */
  guard?: PutGuard;
}

export interface PutOptions {
  /** The grant the receiver's guard checks (a lease id); sent with the put. At most 255 bytes. */
  grant?: string;
}

/** Longest grant a put may carry. */
export const MAX_GRANT_BYTES = 255;

export interface TransferEngine {
  readonly backend: TransferBackend;
  /** Whether a region's guard is applied to every put that reaches it (false for ucx). */
  readonly enforcesGrants: boolean;
  /** Expose a local buffer (e.g. the KV pool, registered ONCE at start-up) for remote one-sided writes. */
  registerRegion(regionId: string, buffer: ArrayBuffer, options?: RegionOptions): Promise<RegionDescriptor>;
  /**
   * Allocates a zeroed region of `bytes` (64-byte aligned) and registers it: prefer this for a
   * receiver's KV pool. The ucx backend lets UCX allocate it (shared memory), which is what lets
   * senders on the same host put with a memcpy (perftest-class bandwidth, ADR 0009); memory
   * registered with registerRegion is reachable on one host only through emulated or tcp puts.
   */
  allocateRegion(regionId: string, bytes: number, options?: RegionOptions): Promise<AllocatedRegion>;
  /**
   * One-sided write of ranges of `source` into the remote region; contiguous adjacent ranges are
   * coalesced; resolves when the data is visible in the remote memory (after flush / ack).
   * `source` must not change until the promise settles.
   */
  put(remote: RegionDescriptor, source: ArrayBuffer, ops: readonly WriteOp[], options?: PutOptions): Promise<PutResult>;
  stats(): TransferStats;
  close(): Promise<void>;
}

export interface AllocatedRegion {
  /** The region's memory (for ucx: memory UCX allocated; valid while referenced). */
  buffer: ArrayBuffer;
  descriptor: RegionDescriptor;
}

export interface TransferEngineOptions {
  /** tcp: address the receiver listens on (default 127.0.0.1). */
  host?: string;
  /** tcp: port the receiver listens on (default 0: an ephemeral port). */
  port?: number;
  /** tcp: host written into descriptors when `host` is a wildcard address (default: os.hostname()). */
  advertiseHost?: string;
  /** ucx: worker options (error-handling mode, direct puts, wakeup mode). */
  ucx?: UcxWorkerOptions;
  /** Called after every put, successful or not (metrics, tracing). */
  onTransfer?: (record: TransferRecord) => void;
  /**
   * The cluster's transfer key. tcp: connections are TLS 1.3 with it as a pre-shared key
   * (tcp-tls.ts): a receiver accepts only peers that hold it, and puts are encrypted. ucx: checked
   * puts (into guarded regions) carry a MAC under it that the receiver verifies before its guard
   * runs, refusing replays (ucx-put-auth.ts); not encrypted. local ignores it.
   */
  authKey?: Buffer;
  /** tcp, local: a put into one of this engine's regions refused by the region's guard (metrics). */
  onPutRefused?: (regionId: string) => void;
  /** tcp: a connection refused by the TLS-PSK handshake; ucx: a checked put without a valid MAC (metrics). */
  onAuthRefused?: (reason: 'handshake_failed' | 'handshake_timeout' | 'bad_mac') => void;
}
