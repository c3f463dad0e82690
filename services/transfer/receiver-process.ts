/**
 * A receiver in its own process, for cross-process tests and `tandem bench transfer`:
 *
 *   node dist/services/transfer/receiver-process.js '{"backend":"tcp","bytes":1048576,"seed":7}'
 *
 * Has a transfer engine of the given backend allocate and register a region (engine.allocateRegion;
 * `registerOwnBuffer`: a native 64-byte aligned buffer and registerRegion), fills it with the
 * seeded pattern and prints `{"type":"ready","descriptor":…,"pid":…}` as
 * one JSON line. Then it answers JSON-line requests on stdin — `digest` / `read` of a byte range,
 * `stats`, `close` — one JSON line each on stdout. It exits when stdin ends.
 */
import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { native } from '../../kernels/ts/index.js';
import { fillPattern } from './pattern.js';
import { TcpTransferEngine } from './tcp-backend.js';
import { createTransferEngine } from './transfer-engine.js';
import type { PutGuard, TransferBackend, TransferEngine } from './types.js';
import type { UcxWorkerOptions } from '../../kernels/ts/ucx.js';

export interface ReceiverConfig {
  backend: TransferBackend;
  bytes: number;
  seed?: number;
  regionId?: string;
  host?: string;
  ucx?: UcxWorkerOptions;
  /** Register a natively allocated buffer (registerRegion) instead of engine.allocateRegion. */
  registerOwnBuffer?: boolean;
  /** tcp: a transfer key (hex; a throw-away key of a test or bench run): TLS-PSK connections. */
  authKeyHex?: string;
  /** Guard the region: only puts naming `id` and writing inside [offset, offset + length) land. */
  grant?: TestGrant;
}

export interface TestGrant {
  id: string;
  offset: number;
  length: number;
}

/** The guard of a region with one grant (the contract's stand-in for a decode worker's lease). */
export function testGrantGuard(g: TestGrant): PutGuard {
  return (grant, ranges) => {
    if (grant !== g.id) return grant === undefined ? 'the put names no lease' : 'unknown lease';
    const out = ranges.find((r) => r.offset < g.offset || r.offset + r.length > g.offset + g.length);
    return out ? `bytes [${out.offset}, ${out.offset + out.length}) are outside the lease` : undefined;
  };
}

export interface ReceiverRequest {
  id: number;
  cmd: 'digest' | 'read' | 'stats' | 'close';
  offset?: number;
  length?: number;
}

function send(msg: unknown): void {
  process.stdout.write(JSON.stringify(msg) + '\n');
}

async function main(config: ReceiverConfig): Promise<void> {
  const opts: { host?: string; ucx?: UcxWorkerOptions; authKey?: Buffer } = {};
  if (config.host !== undefined) opts.host = config.host;
  if (config.authKeyHex !== undefined) opts.authKey = Buffer.from(config.authKeyHex, 'hex');
  if (config.ucx !== undefined) opts.ucx = config.ucx;
  const engine: TransferEngine = await createTransferEngine(config.backend, opts);
  // The region as a KV pool should be made: allocated by the engine (for ucx, by UCX: shared memory).
  const regionOptions = config.grant ? { guard: testGrantGuard(config.grant) } : {};
  const { buffer: region, descriptor } = config.registerOwnBuffer
    ? await (async () => {
        const buffer = native.allocKvBuffer(config.bytes);
        return { buffer, descriptor: await engine.registerRegion(config.regionId ?? 'kv', buffer, regionOptions) };
      })()
    : await engine.allocateRegion(config.regionId ?? 'kv', config.bytes, regionOptions);
  const view = new Uint8Array(region);
  if (config.seed !== undefined) fillPattern(view, config.seed);
  send({ type: 'ready', descriptor, pid: process.pid });

  const range = (r: ReceiverRequest) => {
    const offset = r.offset ?? 0;
    const length = r.length ?? view.byteLength - offset;
    if (offset < 0 || length < 0 || offset + length > view.byteLength) throw new Error('range outside the region');
    return view.subarray(offset, offset + length);
  };
  let closing = false;
  const shutdown = async () => {
    if (closing) return;
    closing = true;
    await engine.close();
  };
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    void (async () => {
      let req: ReceiverRequest | undefined;
      try {
        req = JSON.parse(line) as ReceiverRequest;
        switch (req.cmd) {
          case 'digest':
            send({ id: req.id, ok: true, sha256: createHash('sha256').update(range(req)).digest('hex') });
            break;
          case 'read':
            send({ id: req.id, ok: true, base64: Buffer.from(range(req)).toString('base64') });
            break;
          case 'stats':
            send({ id: req.id, ok: true, stats: engine.stats(), received: engine instanceof TcpTransferEngine ? engine.received : undefined });
            break;
          case 'close':
            await shutdown();
            send({ id: req.id, ok: true });
            process.exit(0);
            break;
          default:
            throw new Error(`unknown command ${String((req as { cmd?: unknown }).cmd)}`);
        }
      } catch (err) {
        send({ id: req?.id ?? -1, ok: false, error: (err as Error).message });
      }
    })();
  });
  lines.on('close', () => {
    void shutdown().then(() => process.exit(0));
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(JSON.parse(process.argv[2] ?? '{}') as ReceiverConfig).catch((err: unknown) => {
    send({ type: 'error', message: (err as Error).message, code: (err as { code?: string }).code });
    process.exit(1);
  });
}
