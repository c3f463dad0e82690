/**
 * The behaviour every transfer backend must show, as one vitest suite. `makePair` builds a
 * receiver (holding a `regionBytes` region filled with `fillPattern(seed)`, registered once) and
 * a sender engine; for tcp and ucx the receiver lives in another process (receiver-process.ts),
 * so the bytes really cross a process boundary. The suite mirrors every write into a local copy
 * of the region and compares the whole remote region (sha256) after each test, so a stray or
 * missing byte anywhere fails it.
 *
 * Not a *.test.ts file: it is imported by transfer.test.ts (and compiled with the sources, where
 * it is inert unless called).
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TransferError, type TransferErrorCode } from './errors.js';
import { patternBytes } from './pattern.js';
import type { TestGrant } from './receiver-process.js';
import type { RegionDescriptor, TransferEngine, WriteOp } from './types.js';

export interface ContractReceiver {
  readonly descriptor: RegionDescriptor;
  /** sha256 (hex) of the receiver's region bytes [offset, offset + length). */
  digest(offset?: number, length?: number): Promise<string>;
  read(offset: number, length: number): Promise<Uint8Array>;
  /** The receiver disappears without warning (process killed / engine dropped). */
  kill(): Promise<void>;
  close(): Promise<void>;
}

export interface ContractPair {
  sender: TransferEngine;
  receiver: ContractReceiver;
}

/** `grant`: the receiver's region is guarded, admitting only puts that name it and stay inside it. */
export type MakePair = (regionBytes: number, seed: number, grant?: TestGrant) => Promise<ContractPair>;

export interface ContractOptions {
  /** The receiver checks ranges itself (a forged, larger descriptor is still refused). */
  receiverValidates: boolean;
  /**
   * A guarded region checks every put before it lands (ucx: guarded regions take checked puts,
   * although its plain regions are one-sided RMA that no receiver sees).
   */
  guardedRegionsChecked: boolean;
  /** Codes acceptable for a put to a receiver that is gone. */
  goneCodes: readonly TransferErrorCode[];
  /** Skip the suite, with the reason shown. */
  skip?: string;
}

const REGION = 8 << 20;
const SEED = 0x7a11;

function sha(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function randomSource(length: number): ArrayBuffer {
  const b = randomBytes(length);
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

async function expectTransferError(p: Promise<unknown>, codes: readonly TransferErrorCode[]): Promise<TransferError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'the put should have been rejected').toBeInstanceOf(TransferError);
  expect(codes).toContain((err as TransferError).code);
  return err as TransferError;
}

export function runTransferContract(name: string, makePair: MakePair, options: ContractOptions): void {
  describe(`transfer contract: ${name}`, () => {
    // A backend that cannot run here fails loudly instead of being skipped.
    it('the backend is available on this machine', () => expect(options.skip).toBeUndefined());
    let pair: ContractPair;
    let sender: TransferEngine;
    let remote: RegionDescriptor;
    /** What the remote region must hold. */
    const mirror = patternBytes(REGION, SEED);

    const apply = (source: ArrayBuffer, ops: readonly WriteOp[]) => {
      const src = new Uint8Array(source);
      for (const op of ops) mirror.set(src.subarray(op.localOffset, op.localOffset + op.length), op.remoteOffset);
    };
    const expectRegionMatchesMirror = async () => {
      expect(await pair.receiver.digest(0, REGION)).toBe(sha(mirror));
    };

    beforeAll(async () => {
      pair = await makePair(REGION, SEED);
      sender = pair.sender;
      remote = pair.receiver.descriptor;
    });

    afterAll(async () => {
      await pair?.sender.close();
      await pair?.receiver.close();
    });

    it('publishes a JSON-serializable descriptor of the registered region', async () => {
      expect(remote.backend).toBe(sender.backend);
      expect(remote.size).toBe(REGION);
      expect(JSON.parse(JSON.stringify(remote))).toEqual(remote);
      await expectRegionMatchesMirror(); // registration itself writes nothing
    });

    it('writes random bytes exactly, from a few bytes to megabytes', async () => {
      let remoteOffset = 0;
      for (const size of [1, 1000, 4096, 65_536 + 3, 1 << 20, 3 * (1 << 20) + 17]) {
        const source = randomSource(size + 64);
        const ops = [{ localOffset: 32, remoteOffset, length: size }];
        const r = await sender.put(remote, source, ops);
        expect(r.bytes).toBe(size);
        expect(r.ops).toBe(1);
        expect(r.seconds).toBeGreaterThan(0);
        apply(source, ops);
        expect(sha(await pair.receiver.read(remoteOffset, size))).toBe(sha(new Uint8Array(source, 32, size)));
        remoteOffset += size + 5;
      }
      await expectRegionMatchesMirror();
    });

    it('writes only the blocks it is given (a suffix), leaving every other byte untouched', async () => {
      const block = 16 << 10;
      const source = randomSource(32 * block);
      // Blocks 20..31 of the sequence land in remote blocks 300..311; 0..19 are "already cached".
      const ops: WriteOp[] = [];
      for (let i = 20; i < 32; i++) ops.push({ localOffset: i * block, remoteOffset: (280 + i) * block, length: block });
      const before = await pair.receiver.read(290 * block, 10 * block);
      await sender.put(remote, source, ops);
      apply(source, ops);
      expect(sha(await pair.receiver.read(290 * block, 10 * block))).toBe(sha(before)); // the block before the suffix
      expect(sha(await pair.receiver.read(300 * block, 12 * block))).toBe(sha(new Uint8Array(source, 20 * block, 12 * block)));
      await expectRegionMatchesMirror();
    });

    it('coalesces adjacent ranges: same bytes, fewer ops on the wire', async () => {
      const block = 8 << 10;
      const source = randomSource(48 * block);
      const stats0 = sender.stats();
      // 16 consecutive blocks to 16 consecutive remote blocks: one range.
      const adjacent: WriteOp[] = [];
      for (let i = 0; i < 16; i++) adjacent.push({ localOffset: i * block, remoteOffset: (400 + i) * block, length: block });
      const a = await sender.put(remote, source, adjacent);
      expect(a).toMatchObject({ bytes: 16 * block, ops: 1 });
      // Two runs of 8 with a gap: two ranges.
      const twoRuns: WriteOp[] = [];
      for (let i = 16; i < 32; i++) twoRuns.push({ localOffset: i * block, remoteOffset: (i < 24 ? 420 + i : 430 + i) * block, length: block });
      const b = await sender.put(remote, source, twoRuns);
      expect(b.ops).toBe(2);
      // Reversed order: nothing is contiguous, nothing coalesces.
      const reversed: WriteOp[] = [];
      for (let i = 32; i < 48; i++) reversed.push({ localOffset: i * block, remoteOffset: (559 - (i - 32)) * block, length: block });
      const c = await sender.put(remote, source, reversed);
      expect(c.ops).toBe(16);
      const stats1 = sender.stats();
      expect(stats1.ops - stats0.ops).toBe(1 + 2 + 16);
      expect(stats1.requestedOps - stats0.requestedOps).toBe(48);
      for (const ops of [adjacent, twoRuns, reversed]) apply(source, ops);
      await expectRegionMatchesMirror();
    });

    it('refuses out-of-range writes and writes nothing of such a put', async () => {
      const source = randomSource(1 << 16);
      const stats0 = sender.stats();
      const valid = { localOffset: 0, remoteOffset: 0, length: 4096 };
      // Past the end of the remote region, even when an earlier range of the same put is fine.
      await expectTransferError(sender.put(remote, source, [valid, { localOffset: 0, remoteOffset: REGION - 100, length: 101 }]), ['out_of_range']);
      // Past the end of the source.
      await expectTransferError(sender.put(remote, source, [{ localOffset: (1 << 16) - 10, remoteOffset: 0, length: 11 }]), ['out_of_range']);
      // Negative and fractional offsets.
      await expectTransferError(sender.put(remote, source, [{ localOffset: 0, remoteOffset: -1, length: 10 }]), ['out_of_range']);
      await expectTransferError(sender.put(remote, source, [{ localOffset: 0.5, remoteOffset: 0, length: 10 }]), ['out_of_range']);
      expect(sender.stats().bytes).toBe(stats0.bytes);
      await expectRegionMatchesMirror();
    });

    // One-sided UCX puts have no receiver-side check (the sender's check is the protection), so
    // this case exists only for backends whose receiver validates.
    if (options.receiverValidates) it('the receiver itself refuses ranges beyond its region (forged descriptor)', async () => {
      const source = randomSource(1 << 16);
      const forged: RegionDescriptor = { ...remote, size: REGION * 2 };
      const ops = [
        { localOffset: 0, remoteOffset: 4096, length: 4096 },
        { localOffset: 4096, remoteOffset: REGION + 4096, length: 4096 },
      ];
      await expectTransferError(sender.put(forged, source, ops), ['out_of_range']);
      await expectRegionMatchesMirror();
      // The engine (and its connection) stays usable.
      const ok = [{ localOffset: 0, remoteOffset: 12_345, length: 777 }];
      await sender.put(remote, source, ok);
      apply(source, ok);
      await expectRegionMatchesMirror();
    });

    it('lands many concurrent puts', async () => {
      const block = 32 << 10;
      const n = 64;
      const sources = Array.from({ length: n }, () => randomSource(2 * block));
      const opsOf = (i: number): WriteOp[] => [
        { localOffset: 0, remoteOffset: (1 << 20) + 2 * i * block, length: block },
        { localOffset: block, remoteOffset: (1 << 20) + (2 * i + 1) * block, length: block },
      ];
      const results = await Promise.all(sources.map((s, i) => sender.put(remote, s, opsOf(i))));
      for (const r of results) expect(r).toMatchObject({ bytes: 2 * block, ops: 1 });
      sources.forEach((s, i) => apply(s, opsOf(i)));
      await expectRegionMatchesMirror();
    });

    it('counts bytes, transfers and time in its stats', async () => {
      const s0 = sender.stats();
      const source = randomSource(100_000);
      const ops = [
        { localOffset: 0, remoteOffset: 7 << 20, length: 60_000 },
        { localOffset: 60_000, remoteOffset: (7 << 20) + 70_000, length: 40_000 },
      ];
      await sender.put(remote, source, ops);
      await sender.put(remote, source, ops.slice(0, 1));
      apply(source, ops);
      const s1 = sender.stats();
      expect(s1.backend).toBe(sender.backend);
      expect(s1.bytes - s0.bytes).toBe(160_000);
      expect(s1.transfers - s0.transfers).toBe(2);
      expect(s1.seconds).toBeGreaterThan(s0.seconds);
      expect(s1.failures).toBe(s0.failures);
      await expectRegionMatchesMirror();
    });

    it('accepts an empty put and refuses malformed descriptors or those of another backend', async () => {
      expect(await sender.put(remote, new ArrayBuffer(8), [])).toMatchObject({ bytes: 0, ops: 0 });
      const other = sender.backend === 'tcp' ? 'local' : 'tcp';
      await expectTransferError(sender.put({ ...remote, backend: other }, new ArrayBuffer(8), [{ localOffset: 0, remoteOffset: 0, length: 8 }]), ['bad_descriptor']);
      const malformed = { ...remote, size: Number.NaN };
      await expectTransferError(sender.put(malformed, new ArrayBuffer(8), [{ localOffset: 0, remoteOffset: 0, length: 8 }]), ['bad_descriptor']);
      await expectRegionMatchesMirror();
    });

    it('fails a put cleanly once the receiver is gone, and refuses puts after close', async () => {
      await pair.receiver.kill();
      const source = randomSource(1 << 20);
      const failures = sender.stats().failures;
      await expectTransferError(sender.put(remote, source, [{ localOffset: 0, remoteOffset: 0, length: 1 << 20 }]), options.goneCodes);
      expect(sender.stats().failures).toBe(failures + 1);
      await sender.close();
      await expectTransferError(sender.put(remote, source, [{ localOffset: 0, remoteOffset: 0, length: 16 }]), ['closed']);
    });
  });

  // A decode worker's KV pool admits a prefill's puts only under the lease it handed out, and only
  // into that lease's blocks (services/worker/kv-write-guard.ts); here the same guard with one
  // grant over one range of the region.
  describe(`transfer contract: ${name}, guarded region`, () => {
    const BYTES = 1 << 20;
    const grant: TestGrant = { id: 'lease-7f3a', offset: 256 << 10, length: 128 << 10 };
    let pair: ContractPair;
    const mirror = patternBytes(BYTES, SEED);
    const digestMatches = async () => expect(await pair.receiver.digest()).toBe(sha(mirror));

    beforeAll(async () => {
      pair = await makePair(BYTES, SEED, grant);
    }, 30_000);
    afterAll(async () => {
      await pair?.receiver.close();
      await pair?.sender.close();
    });

    if (options.guardedRegionsChecked) {
      it('lands a put that names the grant and stays inside it', async () => {
        expect(pair.sender.enforcesGrants).toBe(true);
        const source = randomSource(8192);
        const ops = [{ localOffset: 0, remoteOffset: grant.offset, length: 4096 }, { localOffset: 4096, remoteOffset: grant.offset + grant.length - 4096, length: 4096 }];
        await pair.sender.put(pair.receiver.descriptor, source, ops, { grant: grant.id });
        for (const op of ops) mirror.set(new Uint8Array(source, op.localOffset, op.length), op.remoteOffset);
        await digestMatches();
      });

      it('refuses, writing nothing, a put without the grant, with another grant, or reaching outside it', async () => {
        const source = randomSource(8192);
        const inside = { localOffset: 0, remoteOffset: grant.offset, length: 4096 };
        const d = pair.receiver.descriptor;
        await expectTransferError(pair.sender.put(d, source, [inside]), ['not_granted']);
        await expectTransferError(pair.sender.put(d, source, [inside], { grant: 'lease-guessed' }), ['not_granted']);
        // A descriptor forged to reach past the region is refused by the receiver itself.
        const forged = { ...d, size: BYTES * 4 };
        if (options.receiverValidates) await expectTransferError(pair.sender.put(forged, source, [{ localOffset: 0, remoteOffset: BYTES + 4096, length: 4096 }], { grant: grant.id }), ['out_of_range', 'not_granted', 'bad_descriptor']);
        // One range inside, one a byte past the end: the whole put is refused.
        await expectTransferError(pair.sender.put(d, source, [inside, { localOffset: 4096, remoteOffset: grant.offset + grant.length - 4095, length: 4096 }], { grant: grant.id }), ['not_granted']);
        await expectTransferError(pair.sender.put(d, source, [{ localOffset: 0, remoteOffset: 0, length: 8192 }], { grant: grant.id }), ['not_granted']);
        await digestMatches();
        // The connection (tcp) stays usable after refusals.
        await pair.sender.put(d, source, [inside], { grant: grant.id });
        mirror.set(new Uint8Array(source, 0, 4096), grant.offset);
        await digestMatches();
      });

      it('refuses a grant longer than the protocol allows before sending anything', async () => {
        await expectTransferError(pair.sender.put(pair.receiver.descriptor, new ArrayBuffer(8), [{ localOffset: 0, remoteOffset: grant.offset, length: 8 }], { grant: 'x'.repeat(256) }), ['invalid_argument']);
        await digestMatches();
      });
    } else {
      // One-sided RMA: the receiver's CPU never sees the put, so the guard cannot run. The engine
      // says so (workers and docs/security.md rely on it) and a grant does not get in the way.
      it('says it cannot enforce grants, and still lands puts that carry one', async () => {
        expect(pair.sender.enforcesGrants).toBe(false);
        const source = randomSource(4096);
        const ops = [{ localOffset: 0, remoteOffset: grant.offset, length: 4096 }];
        await pair.sender.put(pair.receiver.descriptor, source, ops, { grant: grant.id });
        mirror.set(new Uint8Array(source), grant.offset);
        await digestMatches();
      });
    }
  });
}
