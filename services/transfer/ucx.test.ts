/** UCX-backend specifics beyond the shared contract (transfer.contract.ts). */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { native } from '../../kernels/ts/index.js';
import { nativeUcx, type UcxWorkerOptions } from '../../kernels/ts/ucx.js';
import { TransferError } from './errors.js';
import { RemoteReceiver, receiverScriptPath } from './receiver-client.js';
import { bestAvailableBackend, createTransferEngine, ucxAvailability } from './transfer-engine.js';
import type { RegionDescriptor } from './types.js';
import type { UcxTransferEngine } from './ucx-backend.js';

const available = ucxAvailability();
const engines: UcxTransferEngine[] = [];
async function ucx(options?: UcxWorkerOptions): Promise<UcxTransferEngine> {
  const e = (await createTransferEngine('ucx', options ? { ucx: options } : {})) as UcxTransferEngine;
  engines.push(e);
  return e;
}
afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.close()));
});

async function rejection(p: Promise<unknown>): Promise<TransferError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(TransferError);
  return err as TransferError;
}

/** Runs a module snippet against the compiled tree in a fresh node process. */
function runCompiled(code: string, env: Record<string, string> = {}) {
  const dist = dirname(receiverScriptPath()); // also checks that dist/ is fresh
  const prelude = `const T = await import(${JSON.stringify(pathToFileURL(join(dist, 'transfer-engine.js')).href)});
const K = await import(${JSON.stringify(pathToFileURL(join(dist, '..', '..', 'kernels', 'ts', 'index.js')).href)});\n`;
  return spawnSync(process.execPath, ['--input-type=module', '-e', prelude + code], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 60_000,
  });
}

describe('ucx transfer engine', () => {
  it('UCX is available (the addon was built with it and a context opens)', () => expect(available.ok, available.ok ? '' : available.reason).toBe(true));
  it('is the best available backend when UCX opens', () => {
    expect(bestAvailableBackend()).toBe('ucx');
    const u = nativeUcx();
    expect(u.compiled && u.version).toMatch(/^\d+\.\d+/);
  });

  it.each<[string, UcxWorkerOptions | undefined]>([
    ['default (peer error handling, event wakeup)', undefined],
    ['polling progress', { eventWakeup: false, idlePollUs: 200 }],
    ['no peer error handling (shared-memory transports)', { peerErrorHandling: false }],
  ])('moves bytes between two workers in one process: %s', async (_name, options) => {
    const receiver = await ucx(options);
    const sender = await ucx(options);
    const region = native.allocKvBuffer(1 << 20);
    const d = await receiver.registerRegion('kv', region);
    const src = randomBytes(300_000);
    const source = src.buffer.slice(src.byteOffset, src.byteOffset + src.length) as ArrayBuffer;
    const r = await sender.put(d, source, [
      { localOffset: 0, remoteOffset: 4096, length: 100_000 },
      { localOffset: 100_000, remoteOffset: 104_096, length: 200_000 },
    ]);
    expect(r).toMatchObject({ bytes: 300_000, ops: 1 });
    expect(Buffer.from(region, 4096, 300_000).equals(src)).toBe(true);
    expect(new Uint8Array(region, 0, 4096).every((x) => x === 0)).toBe(true);
    expect(await sender.endpointInfo(d)).toMatch(/lane\[0\]/);
  });

  it('puts from a registered source region (pre-registered memory handle)', async () => {
    const receiver = await ucx();
    const sender = await ucx();
    const dst = native.allocKvBuffer(1 << 20);
    const src = native.allocKvBuffer(1 << 20);
    new Uint8Array(src).set(randomBytes(1 << 20));
    const d = await receiver.registerRegion('kv', dst);
    await sender.registerRegion('kv-local', src);
    await sender.put(d, src, [{ localOffset: 0, remoteOffset: 0, length: 1 << 20 }]);
    expect(Buffer.from(dst).equals(Buffer.from(src))).toBe(true);
  });

  it('refuses tampered or incomplete descriptors before they reach UCX', async () => {
    const receiver = await ucx();
    const sender = await ucx();
    const d = await receiver.registerRegion('kv', native.allocKvBuffer(4096));
    const flip = (s: string) => (s[0] === 'A' ? 'B' : 'A') + s.slice(1);
    const tampered: RegionDescriptor[] = [
      { ...d, endpoint: { ...d.endpoint, rkey: flip(d.endpoint['rkey'] as string) } },
      { ...d, endpoint: { ...d.endpoint, workerAddress: flip(d.endpoint['workerAddress'] as string) } },
      { ...d, endpoint: { ...d.endpoint, baseAddress: String(BigInt(d.endpoint['baseAddress'] as string) + 4096n) } },
      { ...d, size: 1 << 30 },
      { ...d, endpoint: { workerAddress: d.endpoint['workerAddress']! } },
    ];
    for (const t of tampered) {
      expect((await rejection(sender.put(t, new ArrayBuffer(16), [{ localOffset: 0, remoteOffset: 0, length: 16 }]))).code).toBe('bad_descriptor');
    }
    await sender.put(d, new ArrayBuffer(16), [{ localOffset: 0, remoteOffset: 0, length: 16 }]);
  });

  it('turns UCS errors into TransferErrors carrying the status', async () => {
    const e = await ucx();
    await e.registerRegion('kv', new ArrayBuffer(64));
    const err = await rejection(e.registerRegion('kv', new ArrayBuffer(64)));
    expect(err.code).toBe('ucx');
    expect(err.ucsStatus).toBeLessThan(0);
    expect(err.message).toMatch(/already registered/);
  });

  it('refuses work after close; close is idempotent', async () => {
    const e = await ucx();
    await e.close();
    await e.close();
    expect((await rejection(e.registerRegion('kv', new ArrayBuffer(8)))).code).toBe('closed');
  });

  it('lets the process exit with engines open, idle or mid-put, without crashing', () => {
    const code = `
const r = await T.createTransferEngine('ucx');
const s = await T.createTransferEngine('ucx');
const d = await r.registerRegion('kv', K.native.allocKvBuffer(1 << 20));
await s.put(d, new ArrayBuffer(4096), [{ localOffset: 0, remoteOffset: 0, length: 4096 }]);
if (process.argv.includes('mid')) void s.put(d, new ArrayBuffer(1 << 20), [{ localOffset: 0, remoteOffset: 0, length: 1 << 20 }]);
console.log('done');`;
    const idle = runCompiled(code);
    expect(idle.stdout.trim()).toBe('done');
    expect(idle.status).toBe(0);
    const mid = runCompiled(code.replace("process.argv.includes('mid')", 'true'));
    expect(mid.stdout.trim()).toBe('done');
    expect(mid.status).toBe(0);
  });
});

describe('ucx between two processes on one host (ADR 0009)', () => {
  const receivers: RemoteReceiver[] = [];
  afterEach(async () => {
    await Promise.all(receivers.splice(0).map((r) => r.kill()));
  });
  async function receiver(options: Partial<Parameters<typeof RemoteReceiver.spawn>[0]> = {}): Promise<RemoteReceiver> {
    const r = await RemoteReceiver.spawn({ backend: 'ucx', bytes: 4 << 20, seed: 3, ...options });
    receivers.push(r);
    return r;
  }
  const big = 2 << 20; // above directPutMaxBytes: goes through ucp_put_nbx on the progress thread

  it.each<[string, UcxWorkerOptions | undefined, RegExp]>([
    ['auto: shared memory lanes', undefined, /sysv|posix/],
    ["errorHandling 'peer': tcp only", { errorHandling: 'peer' }, /tcp/],
  ])('%s; direct and progress-thread puts land', async (_name, options, lanes) => {
    const r = await receiver();
    const sender = await ucx(options);
    const src = randomBytes(big);
    const source = src.buffer.slice(src.byteOffset, src.byteOffset + src.length) as ArrayBuffer;
    await sender.put(r.descriptor, source, [{ localOffset: 0, remoteOffset: 0, length: big }]);
    await sender.put(r.descriptor, source, [{ localOffset: 5, remoteOffset: big + 100, length: 4096 }]);
    await sender.put(r.descriptor, source, [{ localOffset: 7, remoteOffset: big + 100, length: 4096 }]); // direct once mapped
    expect(Buffer.from(await r.read(0, big)).equals(src)).toBe(true);
    expect(Buffer.from(await r.read(big + 100, 4096)).equals(src.subarray(7, 7 + 4096))).toBe(true);
    expect(await sender.endpointInfo(r.descriptor)).toMatch(lanes);
  });

  it.each<[string, number]>([
    ['a direct put', 4096],
    ['a progress-thread put', big],
  ])('fails %s to a killed receiver with peer_failed, and later puts too', async (_name, length) => {
    const r = await receiver();
    const sender = await ucx();
    const source = new ArrayBuffer(big);
    await sender.put(r.descriptor, source, [{ localOffset: 0, remoteOffset: 0, length: 4096 }]);
    await sender.put(r.descriptor, source, [{ localOffset: 0, remoteOffset: 0, length: 4096 }]);
    await r.kill();
    for (let i = 0; i < 2; i++) {
      const err = await rejection(sender.put(r.descriptor, source, [{ localOffset: 0, remoteOffset: 0, length }]));
      expect(err.code).toBe('peer_failed');
      expect(err.message).toMatch(/exited/);
    }
  });

  it('fails the first put to a receiver that died before it was ever contacted', async () => {
    const r = await receiver();
    await r.kill();
    const sender = await ucx();
    const err = await rejection(sender.put(r.descriptor, new ArrayBuffer(4096), [{ localOffset: 0, remoteOffset: 0, length: 4096 }]));
    expect(['peer_failed', 'peer_unreachable', 'ucx']).toContain(err.code);
  });

  it('does not hang a put to a killed receiver whose region is not shared memory (registerRegion)', async () => {
    const r = await receiver({ registerOwnBuffer: true });
    const sender = await ucx();
    const source = new ArrayBuffer(big);
    await sender.put(r.descriptor, source, [{ localOffset: 0, remoteOffset: 0, length: big }]);
    await r.kill();
    const err = await rejection(sender.put(r.descriptor, source, [{ localOffset: 0, remoteOffset: 0, length: big }]));
    expect(['peer_failed', 'peer_unreachable', 'ucx']).toContain(err.code);
  });
});

describe('ucx allocateRegion', () => {
  it('allocates zeroed UCX memory that stays valid after unregister and close', async () => {
    const receiver = await ucx();
    const sender = await ucx();
    const { buffer, descriptor } = await receiver.allocateRegion('kv', 1 << 20);
    expect(buffer.byteLength).toBe(1 << 20);
    expect(new Uint8Array(buffer).every((x) => x === 0)).toBe(true);
    const src = randomBytes(70_000);
    const source = src.buffer.slice(src.byteOffset, src.byteOffset + src.length) as ArrayBuffer;
    await sender.put(descriptor, source, [{ localOffset: 0, remoteOffset: 1000, length: 70_000 }]);
    expect(Buffer.from(buffer, 1000, 70_000).equals(src)).toBe(true);
    await receiver.close();
    new Uint8Array(buffer).fill(7); // still mapped: the buffer owns the memory now
    expect(new Uint8Array(buffer)[12345]).toBe(7);
    expect((await rejection(receiver.allocateRegion('kv2', 64))).code).toBe('closed');
    const other = await ucx();
    expect((await rejection(other.allocateRegion('x', 0))).code).toBe('invalid_argument');
  });
});

describe('ucx fallback', () => {
  it('reports the UCX addon as not compiled when tandem_ucx.node is not there', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-ucx-'));
    try {
      copyFileSync(join(dirname(receiverScriptPath()), '..', '..', 'kernels', 'ts', 'ucx.js'), join(dir, 'ucx.mjs'));
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(pathToFileURL(join(dir, 'ucx.mjs')).href)}); console.log(JSON.stringify(m.nativeUcx()));`], { encoding: 'utf8' });
      const u = JSON.parse(r.stdout);
      expect(u.compiled).toBe(false);
      expect(u.reason).toMatch(/not built/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });


  it('falls back to tcp, and createTransferEngine("ucx") says why, when UCX cannot initialize', () => {
    const r = runCompiled(
      `console.log(JSON.stringify({ best: T.bestAvailableBackend(), why: T.ucxAvailability() }));
try { await T.createTransferEngine('ucx'); console.log('created'); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`,
      { UCX_TLS: 'no-such-transport', UCX_LOG_LEVEL: 'fatal' },
    );
    const [first, second] = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(first.best).toBe('tcp');
    expect(first.why.ok).toBe(false);
    expect(second.code).toBe('unavailable');
    expect(second.message).toMatch(/ucx transfer backend/);
    expect(second.message).toMatch(/UCS status|without UCX/);
  });
});

// Guarded regions (every worker's KV pool and embedding inbox) take checked puts only: an active
// message whose header the receiver's guard sees before the payload is pulled in (ADR 0020).
describe('ucx checked puts into guarded regions', () => {
  const receivers: RemoteReceiver[] = [];
  afterEach(async () => {
    await Promise.all(receivers.splice(0).map((r) => r.kill()));
  });
  const grant = { id: 'lease-4411', offset: 1 << 20, length: 2 << 20 };
  async function guarded(options: Partial<Parameters<typeof RemoteReceiver.spawn>[0]> = {}): Promise<RemoteReceiver> {
    const r = await RemoteReceiver.spawn({ backend: 'ucx', bytes: 4 << 20, seed: 5, grant, ...options });
    receivers.push(r);
    return r;
  }
  function randomSource(length: number): { bytes: Buffer; source: ArrayBuffer } {
    const bytes = randomBytes(length);
    return { bytes, source: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer };
  }

  it('publishes no rkey or address for a guarded region, and its descriptor cannot be turned into an RMA one', async () => {
    const r = await guarded();
    expect(r.descriptor.endpoint).toMatchObject({ access: 'checked', rkey: '', baseAddress: '0' });
    const sender = await ucx();
    const forged = { ...r.descriptor, endpoint: { ...r.descriptor.endpoint, access: 'rma' } };
    expect((await rejection(sender.put(forged, new ArrayBuffer(16), [{ localOffset: 0, remoteOffset: grant.offset, length: 16 }], { grant: grant.id }))).code).toBe('bad_descriptor');
  });

  it.each<[string, number, number]>([
    ['eager: a few KiB', 3, 4096],
    ['rendezvous: 2 MiB in one range', 1, 2 << 20],
    ['many ranges: 3,000 parts gathered into one put', 3000, 512],
  ])('lands %s, byte for byte, and nothing outside it', async (_name, ranges, length) => {
    const r = await guarded();
    const before = Buffer.from(await r.read(0, 4 << 20));
    const sender = await ucx();
    const { bytes, source } = randomSource(ranges * length);
    // Every other slot of the grant, so ranges do not coalesce.
    const stride = Math.floor(grant.length / ranges / 64) * 64;
    const ops = Array.from({ length: ranges }, (_, i) => ({ localOffset: i * length, remoteOffset: grant.offset + i * stride, length }));
    await sender.put(r.descriptor, source, ops, { grant: grant.id });
    const expected = Buffer.from(before);
    for (const op of ops) bytes.copy(expected, op.remoteOffset, op.localOffset, op.localOffset + op.length);
    expect(Buffer.from(await r.read(0, 4 << 20)).equals(expected)).toBe(true);
  });

  it('refuses without writing: no grant, a wrong grant, ranges outside the grant, a region that is not there', async () => {
    const r = await guarded();
    const before = Buffer.from(await r.read(0, 4 << 20));
    const sender = await ucx();
    const { source } = randomSource(1 << 20);
    const inside = { localOffset: 0, remoteOffset: grant.offset, length: 1 << 20 }; // rendezvous-sized
    expect((await rejection(sender.put(r.descriptor, source, [inside]))).code).toBe('not_granted');
    expect((await rejection(sender.put(r.descriptor, source, [inside], { grant: 'lease-guessed' }))).message).toMatch(/unknown lease/);
    expect((await rejection(sender.put(r.descriptor, source, [{ ...inside, remoteOffset: 0 }], { grant: grant.id }))).code).toBe('not_granted');
    // The receiver, not the sender, refuses an unknown region (its id is only in the header).
    const u = nativeUcx();
    if (!u.compiled) throw new Error('UCX addon not compiled');
    const raw = new u.UcxWorker();
    const address = Buffer.from(r.descriptor.endpoint['workerAddress'] as string, 'base64');
    const err = await raw.putChecked(address, 'no-such-region', grant.id, source, new Float64Array([0, grant.offset, 4096])).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ remoteCode: 'unknown_region' });
    // ...and ranges beyond its region, whatever the sender believes its size is.
    const past = await raw.putChecked(address, 'kv', grant.id, source, new Float64Array([0, (4 << 20) - 100, 4096])).then(() => undefined, (e: unknown) => e);
    expect(past).toMatchObject({ remoteCode: 'out_of_range' });
    await raw.close();
    expect(Buffer.from(await r.read(0, 4 << 20)).equals(before)).toBe(true);
    // A refused put leaves the endpoint usable.
    await sender.put(r.descriptor, source, [{ ...inside, length: 4096 }], { grant: grant.id });
  });

  it('with the transfer key: signed puts land; unsigned ones, other keys and a replayed header are refused before the guard', async () => {
    const key = randomBytes(32);
    const r = await guarded({ authKeyHex: key.toString('hex') });
    const before = Buffer.from(await r.read(0, 4 << 20));
    const { bytes, source } = randomSource(8192);
    const op = { localOffset: 0, remoteOffset: grant.offset, length: 8192 };
    const stranger = await ucx();
    const outsider = (await createTransferEngine('ucx', { authKey: randomBytes(32) })) as UcxTransferEngine;
    engines.push(outsider);
    for (const e of [stranger, outsider]) {
      const err = await rejection(e.put(r.descriptor, source, [op], { grant: grant.id }));
      expect(err.code).toBe('not_granted');
      expect(err.message).toMatch(/not authenticated/);
    }
    expect(Buffer.from(await r.read(0, 4 << 20)).equals(before)).toBe(true);
    // A header captured off the wire and sent again as it was: refused as a replay.
    const u = nativeUcx();
    if (!u.compiled) throw new Error('UCX addon not compiled');
    const raw = new u.UcxWorker();
    const address = Buffer.from(r.descriptor.endpoint['workerAddress'] as string, 'base64');
    const { signPutGrant } = await import('./ucx-put-auth.js');
    const field = signPutGrant(key, 'kv', grant.id, [grant.offset, 8192]);
    await raw.putChecked(address, 'kv', field, source, new Float64Array([0, grant.offset, 8192]));
    expect(Buffer.from(await r.read(grant.offset, 8192)).equals(bytes)).toBe(true);
    const again = await raw.putChecked(address, 'kv', field, source, new Float64Array([0, grant.offset, 8192])).then(() => undefined, (e: unknown) => e as Error);
    expect(again?.message).toMatch(/replayed/);
    await raw.close();
    const insider = (await createTransferEngine('ucx', { authKey: key })) as UcxTransferEngine;
    engines.push(insider);
    await insider.put(r.descriptor, source, [op], { grant: grant.id });
    expect((await rejection(insider.put(r.descriptor, source, [op], { grant: 'lease-guessed' }))).message).toMatch(/unknown lease/);
  });

  it('fails, without hanging, a checked put to a killed receiver', async () => {
    const r = await guarded();
    const sender = await ucx();
    const { source } = randomSource(2 << 20);
    await sender.put(r.descriptor, source, [{ localOffset: 0, remoteOffset: grant.offset, length: 4096 }], { grant: grant.id });
    await r.kill();
    for (const length of [4096, 2 << 20]) {
      const err = await rejection(sender.put(r.descriptor, source, [{ localOffset: 0, remoteOffset: grant.offset, length }], { grant: grant.id }));
      expect(['peer_failed', 'peer_unreachable', 'ucx']).toContain(err.code);
    }
  });
});
