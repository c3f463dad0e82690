/**
 * What every backend shares: descriptor and range checks, coalescing, timing, stats and the
 * per-transfer record. A backend implements `registerRegion`, `write` (coalesced, checked ops)
 * and `shutdown`.
 */
import { performance } from 'node:perf_hooks';
import { native } from '../../kernels/ts/index.js';
import { TransferError } from './errors.js';
import { checkOps, coalesceOps, totalBytes } from './ops.js';
import type {
  AllocatedRegion, PutOptions, PutResult, RegionDescriptor, RegionOptions, TransferBackend, TransferEngine, TransferRecord, TransferStats, WriteOp,
} from './types.js';
import { MAX_GRANT_BYTES } from './types.js';

export abstract class EngineBase implements TransferEngine {
  abstract readonly backend: TransferBackend;
  abstract readonly enforcesGrants: boolean;
  private readonly totals = { bytes: 0, seconds: 0, transfers: 0, ops: 0, requestedOps: 0, failures: 0 };
  private closing: Promise<void> | undefined;

  constructor(private readonly onTransfer?: (record: TransferRecord) => void) {}

  abstract registerRegion(regionId: string, buffer: ArrayBuffer, options?: RegionOptions): Promise<RegionDescriptor>;

  /** Default: native 64-byte aligned zeroed memory, registered. */
  async allocateRegion(regionId: string, bytes: number, options?: RegionOptions): Promise<AllocatedRegion> {
    this.checkRegionId(regionId);
    if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new TransferError('invalid_argument', 'bytes must be a positive integer');
    const buffer = native.allocKvBuffer(bytes);
    return { buffer, descriptor: await this.registerRegion(regionId, buffer, options) };
  }

  /** Writes already checked and coalesced ranges; resolves once they are visible remotely. */
  protected abstract write(remote: RegionDescriptor, source: ArrayBuffer, ops: WriteOp[], grant: string | undefined): Promise<void>;

  protected abstract shutdown(): Promise<void>;

  protected get closed(): boolean {
    return this.closing !== undefined;
  }

  protected assertOpen(): void {
    if (this.closing) throw new TransferError('closed', `the ${this.backend} transfer engine is closed`);
  }

  protected checkRegionArgs(regionId: string, buffer: ArrayBuffer): void {
    this.checkRegionId(regionId);
    if (!(buffer instanceof ArrayBuffer) || buffer.byteLength === 0) {
      throw new TransferError('invalid_argument', 'a region must be a non-empty ArrayBuffer');
    }
  }

  protected checkRegionId(regionId: string): void {
    this.assertOpen();
    if (typeof regionId !== 'string' || regionId.length === 0 || Buffer.byteLength(regionId) > 1024) {
      throw new TransferError('invalid_argument', 'regionId must be a non-empty string of at most 1024 bytes');
    }
  }

  async put(remote: RegionDescriptor, source: ArrayBuffer, ops: readonly WriteOp[], options: PutOptions = {}): Promise<PutResult> {
    this.assertOpen();
    const grant = options.grant;
    if (grant !== undefined && (typeof grant !== 'string' || Buffer.byteLength(grant) > MAX_GRANT_BYTES)) {
      throw new TransferError('invalid_argument', `a put's grant must be a string of at most ${MAX_GRANT_BYTES} bytes`);
    }
    if (!remote || remote.backend !== this.backend) {
      throw new TransferError('bad_descriptor', `a ${this.backend} engine cannot write to a ${remote?.backend ?? 'missing'} region`);
    }
    if (typeof remote.regionId !== 'string' || !Number.isSafeInteger(remote.size) || remote.size < 0 || typeof remote.endpoint !== 'object' || remote.endpoint === null) {
      throw new TransferError('bad_descriptor', 'the region descriptor is malformed (regionId, size or endpoint)');
    }
    if (!(source instanceof ArrayBuffer)) throw new TransferError('invalid_argument', 'source must be an ArrayBuffer');
    checkOps(ops, source.byteLength, remote.size);
    const coalesced = coalesceOps(ops);
    const bytes = totalBytes(coalesced);
    const t0 = performance.now();
    try {
      if (coalesced.length > 0) await this.write(remote, source, coalesced, grant);
    } catch (err) {
      this.totals.failures++;
      this.record(remote, bytes, (performance.now() - t0) / 1e3, coalesced.length, ops.length, err);
      throw err;
    }
    const seconds = (performance.now() - t0) / 1e3;
    this.totals.bytes += bytes;
    this.totals.seconds += seconds;
    this.totals.transfers++;
    this.totals.ops += coalesced.length;
    this.totals.requestedOps += ops.length;
    this.record(remote, bytes, seconds, coalesced.length, ops.length);
    return { bytes, seconds, ops: coalesced.length };
  }

  stats(): TransferStats {
    return { backend: this.backend, ...this.totals };
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private record(remote: RegionDescriptor, bytes: number, seconds: number, ops: number, requestedOps: number, err?: unknown) {
    if (!this.onTransfer) return;
    const rec: TransferRecord = { backend: this.backend, regionId: remote.regionId, bytes, seconds, ops, requestedOps, ok: err === undefined };
    if (err !== undefined) rec.error = err instanceof Error ? err.message : String(err);
    try {
      this.onTransfer(rec);
    } catch {
      // A failing metrics hook must not fail the transfer.
    }
  }
}
