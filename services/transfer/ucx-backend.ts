/**
 * UCX backend over the native binding (kernels/ts/ucx.ts). registerRegion maps the buffer with
 * ucp_mem_map once (allocateRegion lets UCX allocate it: shared memory, see ADR 0009) and
 * publishes the worker address, the packed rkey, the base address and the owner's process
 * identity (pid, start time, boot id); put
 * hands the coalesced ranges to the engine's progress thread (ucp_put_nbx each, then
 * ucp_ep_flush_nbx) and resolves once the flush completed, i.e. the bytes are in the remote
 * memory. Endpoints and unpacked rkeys are cached per peer in native code.
 *
 * Error handling (errorHandling 'auto', the default): when the region's owner runs on this host
 * and its process is visible here (same boot id, /proc/<pid> with the published start time), the
 * put names that process, the native side watches it through a pidfd and creates the endpoint
 * without UCX peer error handling, so UCX may use shared memory; the owner's death fails puts
 * (TransferError peer_failed). Otherwise endpoints use UCP_ERR_HANDLING_MODE_PEER.
 *
 * Guarded regions (a `guard` in RegionOptions; every KV pool and embedding inbox of a worker) are
 * not reachable by RMA at all: their descriptor carries no rkey and no address, only
 * `guarded: true`, and a put into one is a *checked put* (NativeUcxWorker.putChecked, ADR 0020):
 * an active message whose header (region, grant, ranges) reaches this engine's guard before the
 * payload is pulled into the region, and whose outcome the receiver sends back. A refusal is
 * `TransferError` `not_granted`, nothing written, as on the other backends.
 *
 * UCX reads worker addresses and rkeys without bounds or sanity checks (garbage crashes the
 * process), so descriptors carry a digest over all their fields and a put refuses a descriptor
 * whose digest does not match before any of it reaches UCX.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { nativeUcx, type NativeUcxWorker, type UcxWorkerOptions } from '../../kernels/ts/ucx.js';
import { EngineBase } from './engine-base.js';
import { TransferError } from './errors.js';
import { opsToTriples } from './ops.js';
import { PutAuthenticator, signPutGrant } from './ucx-put-auth.js';
import type { AllocatedRegion, GuardedRange, PutGuard, RegionDescriptor, RegionOptions, TransferEngineOptions, WriteOp } from './types.js';

interface UcxPeer {
  address: Uint8Array;
  /** The region takes checked puts only (no rkey, no base address). */
  guarded: boolean;
  rkey: Uint8Array;
  base: bigint;
  /** The owner's pid when this process can watch it (same host and pid namespace), else 0. */
  watchPid: number;
  watchStart: bigint;
}

/** This kernel's boot id: equal ids mean one host (one kernel), '' when unknown. */
let ownBoot: string | undefined;
function bootId(): string {
  if (ownBoot === undefined) {
    try {
      ownBoot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      ownBoot = '';
    }
  }
  return ownBoot;
}

/** Start time of a process (clock ticks after boot, /proc/<pid>/stat field 22); '' when not visible. */
export function processStartTime(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch {
    return '';
  }
}

interface UcxEndpoint {
  workerAddress: string;
  /** 'checked': a guarded region (checked puts only); 'rma': one-sided puts with the rkey. */
  access: 'checked' | 'rma';
  rkey: string;
  baseAddress: string;
  pid: number;
  boot: string;
  start: string;
}

function digest(regionId: string, size: number, ep: UcxEndpoint): string {
  return createHash('sha256')
    .update(JSON.stringify(['tandem-ucx-region-v3', regionId, size, ep.workerAddress, ep.access, ep.rkey, ep.baseAddress, ep.pid, ep.boot, ep.start]))
    .digest('hex')
    .slice(0, 32);
}

/** Decodes and verifies the UCX part of a descriptor. */
export function decodeUcxDescriptor(remote: RegionDescriptor): UcxPeer {
  const { workerAddress, access, rkey, baseAddress, pid, boot, start, check } = remote.endpoint;
  if (
    typeof workerAddress !== 'string' || (access !== 'checked' && access !== 'rma') || typeof rkey !== 'string' || typeof baseAddress !== 'string' ||
    typeof check !== 'string' || typeof pid !== 'number' || typeof boot !== 'string' || typeof start !== 'string'
  ) {
    throw new TransferError('bad_descriptor', `ucx region '${remote.regionId}' lacks workerAddress/access/rkey/baseAddress/pid/boot/start/check`);
  }
  if (
    !/^\d{1,20}$/.test(baseAddress) || !/^\d{0,20}$/.test(start) || !Number.isSafeInteger(pid) || pid < 0 ||
    check !== digest(remote.regionId, remote.size, { workerAddress, access, rkey, baseAddress, pid, boot, start })
  ) {
    throw new TransferError('bad_descriptor', `ucx region '${remote.regionId}' has a corrupted or tampered descriptor (digest mismatch)`);
  }
  const guarded = access === 'checked';
  const address = Buffer.from(workerAddress, 'base64');
  const key = Buffer.from(rkey, 'base64');
  if (address.length === 0 || (!guarded && key.length === 0)) throw new TransferError('bad_descriptor', `ucx region '${remote.regionId}' has an empty address or rkey`);
  // Watchable: same kernel, and /proc/<pid> here is the very process that published (not another
  // pid namespace's process, not a reused pid).
  const watchable = pid > 0 && boot !== '' && boot === bootId() && start !== '' && processStartTime(pid) === start;
  return { address, guarded, rkey: key, base: BigInt(baseAddress), watchPid: watchable ? pid : 0, watchStart: watchable ? BigInt(start) : 0n };
}

function ucxFailure(err: unknown, what: string): TransferError {
  if (err instanceof TransferError) return err;
  const e = err as { message?: string; code?: string; ucsStatus?: number; remoteCode?: string };
  const message = `${what}: ${e?.message ?? String(err)}`;
  // A checked put the receiver refused (its guard, an unknown region, ranges outside it).
  if (e?.remoteCode === 'not_granted' || e?.remoteCode === 'unknown_region' || e?.remoteCode === 'out_of_range') {
    return new TransferError(e.remoteCode, message, { cause: err });
  }
  if (err instanceof TypeError) return new TransferError('invalid_argument', message, { cause: err });
  if (e?.code === 'ERR_UCX_CLOSED') return new TransferError('closed', message, { cause: err });
  if (err instanceof RangeError) return new TransferError('out_of_range', message, { cause: err });
  if (typeof e?.ucsStatus === 'number') {
    // UCS_ERR_UNREACHABLE (-6), UCS_ERR_ENDPOINT_TIMEOUT (-80), UCS_ERR_CONNECTION_RESET (-25), ...
    const code = e.ucsStatus === -6 ? 'peer_unreachable' : e.ucsStatus === -25 || e.ucsStatus === -80 ? 'peer_failed' : 'ucx';
    return new TransferError(code, message, { cause: err, ucsStatus: e.ucsStatus });
  }
  return new TransferError('ucx', message, { cause: err });
}

/** Peers kept verified (a cluster's decode workers and prefill inboxes; oldest dropped first). */
const MAX_CACHED_PEERS = 1024;

export class UcxTransferEngine extends EngineBase {
  readonly backend = 'ucx' as const;
  /**
   * A guarded region takes checked puts only (active messages its guard admits first). Puts into
   * unguarded regions stay one-sided RMA, which no receiver sees.
   */
  readonly enforcesGrants = true;
  /** Guards of this engine's guarded regions, by region id. */
  private readonly guards = new Map<string, PutGuard>();
  /** With the cluster's transfer key: checked puts are signed, and received ones verified first. */
  private readonly auth: PutAuthenticator | undefined;
  /**
   * Verified peers by region id and descriptor digest: every request's target is a fresh object
   * decoded from the wire, so keying by identity re-verified (digest, /proc reads) per prefill.
   */
  private readonly peers = new Map<string, UcxPeer>();

  private constructor(
    private readonly worker: NativeUcxWorker,
    private readonly options: TransferEngineOptions,
  ) {
    super(options.onTransfer);
    this.auth = options.authKey ? new PutAuthenticator(options.authKey) : undefined;
    worker.onPut((regionId, grant, pairs) => this.admit(regionId, grant, pairs));
  }

  /**
   * The guard of a checked put into one of our regions: undefined admits it, a reason refuses it.
   * With the transfer key the sender's MAC is checked first (ucx-put-auth.ts).
   */
  private admit(regionId: string, field: string | undefined, pairs: Float64Array): string | undefined {
    let grant = field;
    if (this.auth) {
      const v = this.auth.verify(regionId, field, pairs);
      if (!v.ok) {
        this.options.onAuthRefused?.('bad_mac');
        return v.reason;
      }
      grant = v.grant;
    }
    const guard = this.guards.get(regionId);
    const ranges: GuardedRange[] = [];
    for (let i = 0; i + 1 < pairs.length; i += 2) ranges.push({ offset: pairs[i]!, length: pairs[i + 1]! });
    const refused = guard ? guard(grant, ranges) : `region '${regionId}' has no guard`;
    if (refused !== undefined) this.options.onPutRefused?.(regionId);
    return refused;
  }

  static async open(options: TransferEngineOptions = {}): Promise<UcxTransferEngine> {
    const ucx = nativeUcx();
    if (!ucx.compiled) throw new TransferError('unavailable', `the ucx transfer backend is unavailable: ${ucx.reason}`);
    let worker: NativeUcxWorker;
    try {
      worker = new ucx.UcxWorker(options.ucx satisfies UcxWorkerOptions | undefined);
    } catch (err) {
      throw new TransferError('unavailable', `the ucx transfer backend cannot start: ${(err as Error).message}`, { cause: err });
    }
    return new UcxTransferEngine(worker, options);
  }

  async registerRegion(regionId: string, buffer: ArrayBuffer, options: RegionOptions = {}): Promise<RegionDescriptor> {
    this.checkRegionArgs(regionId, buffer);
    let reg;
    try {
      reg = await this.worker.registerRegion(regionId, buffer, options.guard !== undefined);
    } catch (err) {
      throw ucxFailure(err, `registering region '${regionId}'`);
    }
    return this.describe(regionId, buffer.byteLength, reg.rkey, reg.base, options.guard);
  }

  /** UCX allocates the region (ucp_mem_map ALLOCATE: shared memory), so same-host puts are memcpys. */
  override async allocateRegion(regionId: string, bytes: number, options: RegionOptions = {}): Promise<AllocatedRegion> {
    this.checkRegionId(regionId);
    if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new TransferError('invalid_argument', 'bytes must be a positive integer');
    let reg;
    try {
      reg = await this.worker.allocateRegion(regionId, bytes, options.guard !== undefined);
    } catch (err) {
      throw ucxFailure(err, `allocating region '${regionId}'`);
    }
    return { buffer: reg.buffer, descriptor: this.describe(regionId, bytes, reg.rkey, reg.base, options.guard) };
  }

  /** A guarded region's descriptor (access 'checked') names no rkey and no address: nothing to put into by RMA. */
  private describe(regionId: string, size: number, rkeyBytes: Uint8Array, base: bigint, guard: PutGuard | undefined): RegionDescriptor {
    if (guard) this.guards.set(regionId, guard);
    else this.guards.delete(regionId);
    const ep: UcxEndpoint = {
      workerAddress: Buffer.from(this.worker.address()).toString('base64'),
      access: guard ? 'checked' : 'rma',
      rkey: guard ? '' : Buffer.from(rkeyBytes).toString('base64'),
      baseAddress: guard ? '0' : base.toString(),
      pid: process.pid,
      boot: bootId(),
      start: processStartTime(process.pid),
    };
    return { backend: 'ucx', regionId, size, endpoint: { ...ep, check: digest(regionId, size, ep) } };
  }

  protected write(remote: RegionDescriptor, source: ArrayBuffer, ops: WriteOp[], grant: string | undefined): Promise<void> {
    // Not async: a direct put settles at once, and every extra await is a microtask on the hot path.
    let peer: UcxPeer;
    let pending: Promise<unknown>;
    try {
      peer = this.peer(remote);
      pending = peer.guarded
        ? this.worker.putChecked(peer.address, remote.regionId, this.grantField(remote.regionId, grant, ops), source, opsToTriples(ops), peer.watchPid, peer.watchStart)
        : this.worker.put(peer.address, peer.rkey, peer.base, remote.size, source, opsToTriples(ops), peer.watchPid, peer.watchStart);
    } catch (err) {
      return Promise.reject(ucxFailure(err, `ucx put to region '${remote.regionId}'`));
    }
    return pending.then(
      () => undefined,
      (err: unknown) => {
        throw ucxFailure(err, `ucx put to region '${remote.regionId}'`);
      },
    );
  }

  /** What a checked put carries as its grant: the grant itself, or signed with the transfer key. */
  private grantField(regionId: string, grant: string | undefined, ops: WriteOp[]): string | undefined {
    const key = this.options.authKey;
    if (!key) return grant;
    const pairs = new Float64Array(ops.length * 2);
    ops.forEach((op, i) => {
      pairs[2 * i] = op.remoteOffset;
      pairs[2 * i + 1] = op.length;
    });
    return signPutGrant(key, regionId, grant, pairs);
  }

  /** The lanes and transports UCX chose to reach a region's owner (ucp_ep_print_info). */
  async endpointInfo(remote: RegionDescriptor): Promise<string> {
    this.assertOpen();
    try {
      return await this.worker.endpointInfo(this.peer(remote).address);
    } catch (err) {
      throw ucxFailure(err, 'ucx endpoint info');
    }
  }

  private peer(remote: RegionDescriptor): UcxPeer {
    // The digest covers every field, so an equal (regionId, check) pair is the same verified peer.
    const key = `${remote.regionId}\u0000${String(remote.endpoint.check)}`;
    let p = this.peers.get(key);
    if (!p) {
      p = decodeUcxDescriptor(remote);
      if (this.peers.size >= MAX_CACHED_PEERS) this.peers.delete(this.peers.keys().next().value!);
      this.peers.set(key, p);
    }
    return p;
  }

  protected async shutdown(): Promise<void> {
    await this.worker.close();
  }
}

/** Whether the ucx backend can run here, and why not. Opens and closes a UCX context (cached). */
let availability: { ok: boolean; reason?: string } | undefined;
export function ucxAvailability(): { ok: boolean; reason?: string } {
  if (!availability) {
    const ucx = nativeUcx();
    if (!ucx.compiled) availability = { ok: false, reason: ucx.reason };
    else {
      const probe = ucx.probe();
      availability = probe.ok ? { ok: true } : { ok: false, reason: probe.error ?? 'UCX failed to initialize' };
    }
  }
  return availability;
}
