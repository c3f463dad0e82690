/**
 * Put bandwidth of a backend, for `tandem bench transfer`. The receiver runs in a child process
 * for tcp and ucx (as in a real P → D transfer) and in-process for local. Each measured put
 * writes `bytes` from a native buffer into the remote region, as one range (`blockBytes`
 * unset) or as `bytes / blockBytes` block ranges; `scatter` reverses the block order on the
 * remote side so nothing coalesces (per-range cost), otherwise consecutive blocks coalesce.
 * After the timed puts the remote bytes are checked against the source (sha256).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { native } from '../../kernels/ts/index.js';
import type { UcxWorkerOptions } from '../../kernels/ts/ucx.js';
import { LocalTransferEngine } from './local-backend.js';
import { fillPattern } from './pattern.js';
import { RemoteReceiver } from './receiver-client.js';
import { createTransferEngine } from './transfer-engine.js';
import { UcxTransferEngine } from './ucx-backend.js';
import type { RegionDescriptor, TransferBackend, TransferEngine, WriteOp } from './types.js';

export interface TransferBenchOptions {
  backend: TransferBackend;
  /** Bytes per put. */
  bytes: number;
  /** Split each put into blocks of this size (default: one range). */
  blockBytes?: number;
  /** Reverse the remote block order so blocks cannot coalesce. */
  scatter?: boolean;
  /** Timed puts (default: as many as fit in ~minSeconds, between 3 and 1000). */
  repeats?: number;
  minSeconds?: number;
  warmup?: number;
  /** Concurrent puts in flight (default 1). */
  concurrency?: number;
  ucx?: UcxWorkerOptions;
  /** Extra environment for the receiver process (e.g. UCX_TLS). */
  env?: Record<string, string>;
  /** The receiver registers its own native buffer instead of engine.allocateRegion (the pre-ADR-0009 way). */
  registerOwnBuffer?: boolean;
  /** tcp: a transfer key for both ends, i.e. TLS-PSK encrypted connections (docs/security.md). */
  authKey?: Buffer;
  /**
   * The receiver guards its region (one grant over all of it) and every put carries the grant,
   * as a worker's KV pool is used: for ucx, checked puts (active messages) instead of RMA.
   */
  guarded?: boolean;
}

/** The grant of a guarded bench region (covers the whole region). */
const BENCH_GRANT = 'bench-lease';

export interface TransferBenchResult {
  backend: TransferBackend;
  bytes: number;
  blockBytes: number;
  /** Ranges per put after coalescing. */
  opsPerPut: number;
  concurrency: number;
  repeats: number;
  crossProcess: boolean;
  guarded: boolean;
  secondsPerPut: { min: number; median: number; mean: number };
  /** bytes / second. */
  bandwidth: { best: number; median: number; aggregate: number };
  verified: boolean;
  /** ucx: the lanes UCX picked (ucp_ep_print_info lines). */
  transport?: string;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function benchOps(bytes: number, blockBytes: number, scatter: boolean): WriteOp[] {
  const n = Math.ceil(bytes / blockBytes);
  const ops: WriteOp[] = [];
  for (let i = 0; i < n; i++) {
    const length = Math.min(blockBytes, bytes - i * blockBytes);
    const remoteBlock = scatter ? n - 1 - i : i;
    ops.push({ localOffset: i * blockBytes, remoteOffset: remoteBlock * blockBytes, length });
  }
  return ops;
}

export async function benchTransfer(opts: TransferBenchOptions): Promise<TransferBenchResult> {
  const { backend, bytes } = opts;
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new Error('bytes must be a positive integer');
  const blockBytes = Math.min(opts.blockBytes ?? bytes, bytes);
  const scatter = opts.scatter ?? false;
  const concurrency = Math.max(1, opts.concurrency ?? 1);
  // Each in-flight put gets its own remote slot so concurrent puts never overlap.
  const regionBytes = bytes * concurrency;
  const source = native.allocKvBuffer(bytes);
  fillPattern(new Uint8Array(source), 0x5eed);
  const ops = benchOps(bytes, blockBytes, scatter);
  const engineOpts = { ...(opts.ucx ? { ucx: opts.ucx } : {}), ...(opts.authKey ? { authKey: opts.authKey } : {}) };

  const sender: TransferEngine = await createTransferEngine(backend, engineOpts);
  let remote: RegionDescriptor;
  let receiver: RemoteReceiver | undefined;
  let localReceiver: LocalTransferEngine | undefined;
  let localRegion: Uint8Array | undefined;
  try {
    if (backend === 'local') {
      localReceiver = new LocalTransferEngine();
      const region = native.allocKvBuffer(regionBytes);
      localRegion = new Uint8Array(region);
      remote = await localReceiver.registerRegion('bench', region, opts.guarded ? { guard: (g) => (g === BENCH_GRANT ? undefined : 'no lease') } : {});
    } else {
      const spawnOpts: Parameters<typeof RemoteReceiver.spawn>[0] = { backend, bytes: regionBytes, regionId: 'bench' };
      if (opts.ucx) spawnOpts.ucx = opts.ucx;
      if (opts.env) spawnOpts.env = opts.env;
      if (opts.registerOwnBuffer) spawnOpts.registerOwnBuffer = true;
      if (opts.authKey) spawnOpts.authKeyHex = opts.authKey.toString('hex');
      if (opts.guarded) spawnOpts.grant = { id: BENCH_GRANT, offset: 0, length: regionBytes };
      receiver = await RemoteReceiver.spawn(spawnOpts);
      remote = receiver.descriptor;
    }
    const slotOps = (slot: number) => ops.map((op) => ({ ...op, remoteOffset: op.remoteOffset + slot * bytes }));
    const perSlot = Array.from({ length: concurrency }, (_, s) => slotOps(s));
    const putOptions = opts.guarded ? { grant: BENCH_GRANT } : {};
    const round = () => Promise.all(perSlot.map((o) => sender.put(remote, source, o, putOptions)));

    for (let i = 0; i < (opts.warmup ?? 2); i++) await round();
    const times: number[] = [];
    const minSeconds = opts.minSeconds ?? 0.5;
    const maxRepeats = opts.repeats ?? 1000;
    const t0 = performance.now();
    let opsPerPut = 0;
    while (times.length < maxRepeats) {
      const t = performance.now();
      const results = await round();
      times.push((performance.now() - t) / 1e3);
      opsPerPut = results[0]!.ops;
      if (opts.repeats === undefined && times.length >= 3 && (performance.now() - t0) / 1e3 >= minSeconds) break;
    }
    const total = (performance.now() - t0) / 1e3;

    // The remote bytes must be exactly the source's, wherever the blocks went.
    const expected = new Uint8Array(bytes);
    const src = new Uint8Array(source);
    for (const op of ops) expected.set(src.subarray(op.localOffset, op.localOffset + op.length), op.remoteOffset);
    const want = createHash('sha256').update(expected).digest('hex');
    const got = localRegion
      ? createHash('sha256').update(localRegion.subarray(0, bytes)).digest('hex')
      : await receiver!.digest(0, bytes);

    let transport: string | undefined;
    if (sender instanceof UcxTransferEngine) {
      transport = (await sender.endpointInfo(remote))
        .split('\n')
        .filter((l) => /lane\[|rma_bw|amo/.test(l))
        .map((l) => l.replace(/^#\s*/, '').trim())
        .join('; ');
    }

    const sorted = [...times].sort((a, b) => a - b);
    const perRound = bytes * concurrency;
    const result: TransferBenchResult = {
      backend,
      bytes,
      blockBytes,
      opsPerPut,
      concurrency,
      repeats: times.length,
      crossProcess: backend !== 'local',
      guarded: opts.guarded === true,
      secondsPerPut: { min: sorted[0]!, median: quantile(sorted, 0.5), mean: total / times.length },
      bandwidth: { best: perRound / sorted[0]!, median: perRound / quantile(sorted, 0.5), aggregate: (perRound * times.length) / total },
      verified: got === want,
    };
    if (transport !== undefined) result.transport = transport;
    return result;
  } finally {
    await sender.close();
    await localReceiver?.close();
    await receiver?.close();
  }
}

/** `ucx_perftest` ucp_put_bw between two local processes, for comparison (bytes/second), if installed. */
export async function ucxPerftestPutBandwidth(bytes: number, iterations = 50, extraArgs: string[] = []): Promise<number | undefined> {
  const port = await new Promise<number>((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  const run = (args: string[]) =>
    new Promise<{ code: number | null; out: string }>((resolve) => {
      let out = '';
      const child = spawn('ucx_perftest', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      child.once('error', () => resolve({ code: -1, out }));
      child.once('exit', (code) => resolve({ code, out }));
    });
  const server = run(['-p', String(port), ...extraArgs]);
  await new Promise((r) => setTimeout(r, 500));
  const client = await run(['127.0.0.1', '-p', String(port), '-t', 'ucp_put_bw', '-s', String(bytes), '-n', String(iterations), ...extraArgs]);
  await server;
  if (client.code !== 0) return undefined;
  const final = /Final:\s+(.*)/.exec(client.out);
  if (!final) return undefined;
  // iterations, overhead p50/avg/overall (µs), bandwidth avg/overall (MB/s, MB = 2^20), msg rate avg/overall
  const fields = final[1]!.trim().split(/\s+/).map(Number);
  const mbps = fields[5];
  return mbps === undefined || !Number.isFinite(mbps) ? undefined : mbps * 1024 * 1024;
}

export function formatBandwidth(bytesPerSecond: number): string {
  return bytesPerSecond >= 1e9 ? `${(bytesPerSecond / 1e9).toFixed(2)} GB/s` : `${(bytesPerSecond / 1e6).toFixed(1)} MB/s`;
}
