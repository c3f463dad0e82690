import type { KvLayout } from '../../kernels/ts/index.js';
import { kvLayerRanges } from '../engine/kv/kv-block-ranges.js';
import type { KvLayerProgress } from '../engine/request-types.js';
import { TransferError, type PutResult, type RegionDescriptor, type TransferEngine } from '../transfer/transfer-engine.js';

/** When a prefill worker sends a prompt's KV to the decode worker's reserved blocks. */
export type KvPushMode = 'layerwise' | 'after-prefill';
export const KV_PUSH_MODES: readonly KvPushMode[] = ['layerwise', 'after-prefill'];

export interface KvPushTarget {
  region: RegionDescriptor;
  layout: KvLayout;
  /** The decode worker's blocks for the whole prompt, index-aligned with ours. */
  blockIds: readonly number[];
  /** Blocks [0, fromBlock) the decode worker already holds (its prefix cache): never sent. */
  fromBlock: number;
  /** The decode worker's lease on those blocks: its KV region admits only puts that name it. */
  grant?: string;
  /**
   * performance.now() after which no put is issued: the lease is about to run out, and its blocks
   * may then be another request's (the ucx backend cannot refuse the put on the other side).
   */
  deadlineMs?: number;
}

/** Stop pushing this long before a lease runs out (at most a tenth of it): the call's transit and clock rates. */
export const LEASE_SAFETY_MS = 1000;

/** The local deadline for pushing under a lease with `leaseMsLeft` to run (0: unknown, none). */
export function pushDeadline(leaseMsLeft: number, now = performance.now()): number | undefined {
  if (!leaseMsLeft) return undefined;
  return now + leaseMsLeft - Math.min(LEASE_SAFETY_MS, leaseMsLeft / 10);
}

/**
 * Pushes one prompt's KV into a decode worker's blocks. In layerwise mode each layer's finished
 * blocks go out as soon as the forward pass reports them (`onLayer`), overlapping the transfer
 * with the layers still computing; `finish` sends whatever is left (everything, in after-prefill
 * mode) and waits for every put. Each block of each layer is sent exactly once.
 */
export class KvPush {
  private readonly sent: number[];
  private readonly puts: Promise<PutResult>[] = [];
  private firstPutAt: number | undefined;

  constructor(
    private readonly transfer: TransferEngine,
    private readonly source: { buffer: ArrayBuffer; layout: KvLayout },
    private readonly target: KvPushTarget,
  ) {
    this.sent = new Array<number>(source.layout.layers).fill(target.fromBlock);
  }

  /** Engine hook (EngineRequest.onKvWritten) for layerwise mode. */
  readonly onLayer = (p: KvLayerProgress): void => {
    this.send(p.layer, p.blockTable, Math.min(p.completeBlocks, this.target.blockIds.length));
  };

  /**
   * Sends every block not yet sent, for every layer, and resolves when all puts have landed.
   * `seconds` runs from the first put issued to the last one landed (in layerwise mode most of it
   * overlaps the prefill).
   */
  async finish(blockTable: readonly number[]): Promise<{ bytes: number; seconds: number; puts: number }> {
    for (let l = 0; l < this.sent.length; l++) this.send(l, blockTable, this.target.blockIds.length);
    const results = await Promise.all(this.puts);
    const seconds = this.firstPutAt === undefined ? 0 : (performance.now() - this.firstPutAt) / 1000;
    return { bytes: results.reduce((n, r) => n + r.bytes, 0), seconds, puts: results.length };
  }

  /** Waits for every put issued so far, successful or not (before the target's blocks are freed). */
  async settle(): Promise<void> {
    await Promise.allSettled(this.puts);
  }

  private send(layer: number, blockTable: readonly number[], upTo: number): void {
    const from = this.sent[layer]!;
    if (upTo <= from) return;
    this.sent[layer] = upTo;
    this.firstPutAt ??= performance.now();
    if (this.target.deadlineMs !== undefined && performance.now() > this.target.deadlineMs) {
      const late = Promise.reject(new TransferError('not_granted', `the decode worker's lease on these blocks runs out now: not writing into blocks that may already be another request's`));
      late.catch(() => undefined);
      this.puts.push(late);
      return;
    }
    const ranges = kvLayerRanges(this.source.layout, this.target.layout, blockTable, this.target.blockIds, layer, from, upTo);
    const put = this.transfer.put(
      this.target.region,
      this.source.buffer,
      ranges.map((r) => ({ localOffset: r.srcOffset, remoteOffset: r.dstOffset, length: r.length })),
      { grant: this.target.grant },
    );
    // Observed here so an early failure is not an unhandled rejection before finish() awaits it.
    put.catch(() => undefined);
    this.puts.push(put);
  }
}
