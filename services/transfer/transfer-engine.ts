/**
 * Entry point of the transfer layer: one interface (types.ts), three backends.
 *
 *   const engine = await createTransferEngine(bestAvailableBackend());
 *   const desc = await engine.registerRegion('kv', kvPool);   // receiver, once at start-up
 *   await engine.put(desc, localKv, [{ localOffset, remoteOffset, length }]);   // sender
 */
import { TransferError } from './errors.js';
import { LocalTransferEngine } from './local-backend.js';
import { TcpTransferEngine } from './tcp-backend.js';
import { UcxTransferEngine, ucxAvailability } from './ucx-backend.js';
import type { TransferBackend, TransferEngine, TransferEngineOptions } from './types.js';

export type {
  GuardedRange, PutGuard, PutOptions, PutResult, RegionDescriptor, RegionOptions, TransferBackend, TransferEngine, TransferEngineOptions, TransferRecord, TransferStats, WriteOp,
} from './types.js';
export { TransferError, isTransferError, type TransferErrorCode } from './errors.js';
export { blockOps, coalesceOps } from './ops.js';
export { LocalTransferEngine } from './local-backend.js';
export { TcpTransferEngine } from './tcp-backend.js';
export { UcxTransferEngine, ucxAvailability } from './ucx-backend.js';

export const TRANSFER_BACKENDS: readonly TransferBackend[] = ['ucx', 'tcp', 'local'];

export async function createTransferEngine(kind: TransferBackend, opts: TransferEngineOptions = {}): Promise<TransferEngine> {
  switch (kind) {
    case 'local':
      return new LocalTransferEngine(opts);
    case 'tcp': {
      const engine = new TcpTransferEngine(opts);
      // Bind now so a bad host/port fails here, not at the first registerRegion.
      if (opts.host !== undefined || opts.port !== undefined) {
        try {
          await engine.listen();
        } catch (err) {
          await engine.close();
          throw new TransferError('unavailable', `the tcp transfer backend cannot listen on ${opts.host ?? '127.0.0.1'}:${opts.port ?? 0}: ${(err as Error).message}`, { cause: err });
        }
      }
      return engine;
    }
    case 'ucx':
      return UcxTransferEngine.open(opts);
    default:
      throw new TransferError('invalid_argument', `unknown transfer backend '${String(kind)}' (expected ucx, tcp or local)`);
  }
}

/** 'ucx' when the addon was built with UCX and a UCX context opens on this machine, else 'tcp'. */
export function bestAvailableBackend(): TransferBackend {
  return ucxAvailability().ok ? 'ucx' : 'tcp';
}
