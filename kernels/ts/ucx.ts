/**
 * Typed access to the UCX addon (kernels/build/Release/tandem_ucx.node, built from
 * kernels/src/ucx_*.cc when `ucp/api/ucp.h` exists at build time; TANDEM_UCX=0 skips it).
 *
 * It is a separate addon from tandem_kernels.node and is loaded lazily, on the first
 * `nativeUcx()` call: libucs/libucm run constructors when they are loaded, and with UCX's default
 * memory events (UCX_MEM_EVENTS=y, UCX_MEM_MMAP_HOOK_MODE=bistro) those patch libc's mmap family
 * in place — done while V8's threads are running, that sporadically corrupts the heap (measured
 * here: ~1.6% of processes segfaulted in V8 shortly after loading UCX, 0 of 500 with
 * UCX_MEM_EVENTS=no or with UCX preloaded before Node starts). So processes that never use UCX
 * never load it, and before loading it we set UCX_MEM_EVENTS=no unless the environment already
 * sets it. The price: UCX's registration cache is off, so a put from memory that is not a
 * registered region registers it per operation (cheap for shared memory / TCP; on RDMA, register
 * the sending pool too — puts from a registered region use its memory handle).
 *
 * A `UcxWorker` owns one ucp context + worker driven by its own native progress thread; every
 * method that talks to UCX returns a Promise settled from that thread. Errors carry
 * `code: 'ERR_UCX'`, the UCS status (`ucsStatus`) and its text (`ucsStatusString`).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface UcxWorkerOptions {
  /**
   * Endpoint error handling (docs/adr/0009-ucx-transport-selection.md). `'auto'` (default):
   * UCP_ERR_HANDLING_MODE_NONE towards peers whose process this one can watch (same host and pid
   * namespace; the put names the peer's pid and start time, held through a pidfd), so UCX may use
   * shared memory, and the peer's death fails puts; UCP_ERR_HANDLING_MODE_PEER towards all others.
   * `'peer'`: always PEER (UCX 1.13 then only uses tcp on one host). `'none'`: always NONE.
   */
  errorHandling?: 'auto' | 'peer' | 'none';
  /** Older switch: true = `errorHandling: 'peer'`, false = `'none'` (errorHandling wins). */
  peerErrorHandling?: boolean;
  /**
   * Puts of at most this many bytes (default 1 MiB; 0: never) to a watched same-host peer whose
   * region UCX mapped into this process are copied synchronously on the calling thread.
   */
  directPutMaxBytes?: number;
  /** UCP_FEATURE_WAKEUP (default true): the idle progress thread sleeps on the worker's event fd. */
  eventWakeup?: boolean;
  /** Without eventWakeup, the longest nap of the idle progress thread (µs, default 1000). */
  idlePollUs?: number;
}

export interface UcxRegistration {
  /** ucp_rkey_pack output for the region. */
  rkey: Uint8Array;
  /** Virtual address of the region's first byte in the owning process. */
  base: bigint;
}

export interface NativeUcxWorker {
  /** ucp_worker_get_address bytes: what peers need to create an endpoint to this worker. */
  address(): Uint8Array;
  /**
   * ucp_mem_map (once) + ucp_rkey_pack. The buffer stays referenced until unregistered/closed, and
   * so does the worker itself: peers may put into the region (an emulated put needs this worker's
   * progress thread), so a worker with registered regions or pending operations is not
   * garbage-collected; unregister its regions or close it to let it go.
   */
  registerRegion(regionId: string, buffer: ArrayBuffer, guarded?: boolean): Promise<UcxRegistration>;
  /**
   * ucp_mem_map with UCP_MEM_MAP_ALLOCATE: UCX allocates (shared memory on Linux) and registers
   * `bytes` bytes, returned as an external ArrayBuffer. Same-host peers can then put with a plain
   * memcpy. The memory stays valid while the buffer is referenced, even after unregister/close.
   */
  allocateRegion(regionId: string, bytes: number, guarded?: boolean): Promise<UcxRegistration & { buffer: ArrayBuffer }>;
  unregisterRegion(regionId: string): Promise<void>;
  /**
   * ucp_put_nbx of each [localOffset, remoteOffset, length] triple of `ops`, then
   * ucp_ep_flush_nbx; resolves when the data is in the remote memory. Ranges are checked against
   * `source` and `remoteSize` before anything is sent (RangeError). `source` is referenced until
   * the promise settles and must not change meanwhile.
   */
  put(
    peerAddress: Uint8Array, rkey: Uint8Array, remoteBase: bigint, remoteSize: number, source: ArrayBuffer,
    ops: Float64Array, peerPid?: number, peerStart?: bigint,
  ): Promise<{ seconds: number; direct?: boolean }>;
  /**
   * A checked put into the peer's *guarded* region `regionId` (registered with `guarded`): an
   * active message carrying the grant and the ranges, whose payload lands only after the
   * receiver's guard (onPut) admitted it. Resolves once the receiver replied that the bytes are
   * in place. A refusal rejects with `remoteCode` ('not_granted', 'unknown_region', 'out_of_range',
   * 'failed') and the receiver's reason in the message.
   */
  putChecked(
    peerAddress: Uint8Array, regionId: string, grant: string | undefined, source: ArrayBuffer, ops: Float64Array,
    peerPid?: number, peerStart?: bigint,
  ): Promise<{ seconds: number }>;
  /**
   * The guard of this worker's guarded regions: called on the event loop for every checked put,
   * with the region, the grant and the ranges as [offset, length] pairs; undefined admits the put,
   * a string refuses it with that reason. Without one, checked puts are refused.
   */
  onPut(guard: (regionId: string, grant: string | undefined, ranges: Float64Array) => string | undefined): void;
  /** ucp_ep_print_info for the endpoint to a peer: the lanes/transports UCX selected. */
  endpointInfo(peerAddress: Uint8Array): Promise<string>;
  /** Waits for puts in flight, closes endpoints, unmaps regions, destroys worker and context. */
  close(): Promise<void>;
}

export type NativeUcx =
  | {
      compiled: true;
      /** ucp_get_version_string() */
      version: string;
      /** Opens and closes a context and a worker: does UCX work on this machine right now? */
      probe(): { ok: boolean; error?: string };
      UcxWorker: new (options?: UcxWorkerOptions) => NativeUcxWorker;
    }
  | { compiled: false; reason: string };

/** Environment defaults applied (when unset) before UCX is loaded; see the file comment. */
export const UCX_ENV_DEFAULTS: Readonly<Record<string, string>> = { UCX_MEM_EVENTS: 'no' };

function locateUcxAddon(): string | undefined {
  // Works from the sources (kernels/ts) and from the compiled tree (dist/kernels/ts).
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    for (const candidate of [join(dir, 'kernels', 'build', 'Release', 'tandem_ucx.node'), join(dir, 'build', 'Release', 'tandem_ucx.node')]) {
      if (existsSync(candidate)) return candidate;
    }
    dir = dirname(dir);
  }
  return undefined;
}

let loaded: NativeUcx | undefined;

/** The UCX addon, loaded on first use; `{ compiled: false, reason }` when it is not there. */
export function nativeUcx(): NativeUcx {
  if (loaded) return loaded;
  const path = locateUcxAddon();
  if (!path) {
    loaded = {
      compiled: false,
      reason: 'the UCX addon (tandem_ucx.node) was not built: UCX headers (ucp/api/ucp.h) were missing at build time, or TANDEM_UCX=0',
    };
    return loaded;
  }
  for (const [k, v] of Object.entries(UCX_ENV_DEFAULTS)) {
    if (process.env[k] === undefined) process.env[k] = v;
  }
  try {
    loaded = createRequire(import.meta.url)(path) as NativeUcx;
  } catch (err) {
    // e.g. built with UCX, but libucp is gone from this machine
    loaded = { compiled: false, reason: `the UCX addon cannot be loaded: ${(err as Error).message}` };
  }
  return loaded;
}

export interface UcxError extends Error {
  code: 'ERR_UCX' | 'ERR_UCX_UNAVAILABLE' | 'ERR_UCX_CLOSED';
  ucsStatus?: number;
  ucsStatusString?: string;
  /** A checked put the receiver refused or failed: its reason code. */
  remoteCode?: 'not_granted' | 'unknown_region' | 'out_of_range' | 'failed';
}

export function isUcxError(err: unknown): err is UcxError {
  const code = err instanceof Error ? (err as Error & { code?: unknown }).code : undefined;
  return typeof code === 'string' && code.startsWith('ERR_UCX');
}
