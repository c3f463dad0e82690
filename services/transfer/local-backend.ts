/**
 * In-process backend for the single-process mode: a put is a memcpy into a region registered by
 * another engine of the same process. Descriptors name the engine by a process-unique id, so a
 * descriptor from another process is refused instead of writing somewhere unrelated.
 */
import { randomUUID } from 'node:crypto';
import { EngineBase } from './engine-base.js';
import { TransferError } from './errors.js';
import type { PutGuard, RegionDescriptor, RegionOptions, TransferEngineOptions, WriteOp } from './types.js';

const liveEngines = new Map<string, LocalTransferEngine>();

export class LocalTransferEngine extends EngineBase {
  readonly backend = 'local' as const;
  readonly enforcesGrants = true;
  readonly id = `local-${process.pid}-${randomUUID()}`;
  private readonly regions = new Map<string, { bytes: Uint8Array; guard?: PutGuard }>();

  constructor(private readonly options: TransferEngineOptions = {}) {
    super(options.onTransfer);
    liveEngines.set(this.id, this);
  }

  async registerRegion(regionId: string, buffer: ArrayBuffer, options: RegionOptions = {}): Promise<RegionDescriptor> {
    this.checkRegionArgs(regionId, buffer);
    if (this.regions.has(regionId)) throw new TransferError('invalid_argument', `region '${regionId}' is already registered`);
    this.regions.set(regionId, { bytes: new Uint8Array(buffer), guard: options.guard });
    return { backend: 'local', regionId, size: buffer.byteLength, endpoint: { engine: this.id, pid: process.pid } };
  }

  protected async write(remote: RegionDescriptor, source: ArrayBuffer, ops: WriteOp[], grant: string | undefined): Promise<void> {
    const engineId = remote.endpoint['engine'];
    const peer = typeof engineId === 'string' ? liveEngines.get(engineId) : undefined;
    if (!peer) {
      throw new TransferError('peer_unreachable', `local engine ${String(engineId)} is not open in this process (pid ${process.pid})`);
    }
    const region = peer.regions.get(remote.regionId);
    if (!region) throw new TransferError('unknown_region', `local engine ${peer.id} has no region '${remote.regionId}'`);
    const target = region.bytes;
    const end = ops.reduce((m, op) => Math.max(m, op.remoteOffset + op.length), 0);
    if (end > target.byteLength) {
      throw new TransferError('out_of_range', `write ends at ${end}, beyond the ${target.byteLength}-byte region '${remote.regionId}'`);
    }
    const refused = region.guard?.(grant, ops.map((op) => ({ offset: op.remoteOffset, length: op.length })));
    if (refused !== undefined) peer.options.onPutRefused?.(remote.regionId);
    if (refused !== undefined) throw new TransferError('not_granted', `region '${remote.regionId}' refused the put: ${refused}`);
    const src = new Uint8Array(source);
    for (const op of ops) target.set(src.subarray(op.localOffset, op.localOffset + op.length), op.remoteOffset);
  }

  protected async shutdown(): Promise<void> {
    liveEngines.delete(this.id);
    this.regions.clear();
  }
}
