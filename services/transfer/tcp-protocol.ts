/**
 * Wire format of the TCP backend (little-endian):
 *
 *   put   = magic "TDK1" u32 | putId u32 | nOps u32 | regionIdLen u16 | grantLen u16 | totalBytes u64
 *           | regionId (utf-8) | grant (utf-8) | nOps × (remoteOffset u64 | length u64) | payload (totalBytes)
 *   ack   = magic "TDKA" u32 | putId u32 | status u8 (0 ok, 1 refused) | 0 u8 | msgLen u16 | msg
 *
 * A put frame carries all of a put's ranges in its header, so the receiver checks every range
 * before it writes a byte, and the region's guard sees them with the grant (the lease the sender
 * was given): a refused put writes nothing (its payload is read and dropped) and is answered with
 * an error ack. (grantLen was a reserved flags field, always 0: a put without a grant.) Payload bytes are copied from the socket's chunks straight into
 * the registered region.
 */
import { TransferError } from './errors.js';
import { MAX_GRANT_BYTES, type GuardedRange, type PutGuard, type WriteOp } from './types.js';

export const PUT_MAGIC = 0x314b4454; // "TDK1"
export const ACK_MAGIC = 0x414b4454; // "TDKA"
const PUT_FIXED = 24;
const ACK_FIXED = 12;
const MAX_OPS = 1 << 20;
const MAX_REGION_ID = 1024;
const MAX_ACK_MESSAGE = 4096;

function writeU64(b: Buffer, v: number, at: number): void {
  b.writeUInt32LE(v % 0x1_0000_0000, at);
  b.writeUInt32LE(Math.floor(v / 0x1_0000_0000), at + 4);
}

function readU64(b: Buffer, at: number): number {
  const hi = b.readUInt32LE(at + 4);
  if (hi >= 1 << 21) throw new TransferError('protocol', 'a 64-bit field exceeds 2^53');
  return hi * 0x1_0000_0000 + b.readUInt32LE(at);
}

/** Header of a put frame; the payload (the ops' source bytes, in order) follows it on the wire. */
export function encodePutHeader(putId: number, regionId: string, ops: readonly WriteOp[], grant?: string): Buffer {
  const id = Buffer.from(regionId, 'utf8');
  if (id.length > MAX_REGION_ID) throw new TransferError('invalid_argument', 'regionId is longer than 1024 bytes');
  const g = Buffer.from(grant ?? '', 'utf8');
  if (g.length > MAX_GRANT_BYTES) throw new TransferError('invalid_argument', `a grant is longer than ${MAX_GRANT_BYTES} bytes`);
  if (ops.length > MAX_OPS) throw new TransferError('invalid_argument', `a put may carry at most ${MAX_OPS} ranges`);
  const b = Buffer.allocUnsafe(PUT_FIXED + id.length + g.length + 16 * ops.length);
  let total = 0;
  for (const op of ops) total += op.length;
  b.writeUInt32LE(PUT_MAGIC, 0);
  b.writeUInt32LE(putId, 4);
  b.writeUInt32LE(ops.length, 8);
  b.writeUInt16LE(id.length, 12);
  b.writeUInt16LE(g.length, 14);
  writeU64(b, total, 16);
  id.copy(b, PUT_FIXED);
  g.copy(b, PUT_FIXED + id.length);
  let at = PUT_FIXED + id.length + g.length;
  for (const op of ops) {
    writeU64(b, op.remoteOffset, at);
    writeU64(b, op.length, at + 8);
    at += 16;
  }
  return b;
}

export function encodeAck(putId: number, error?: string): Buffer {
  const msg = Buffer.from((error ?? '').slice(0, MAX_ACK_MESSAGE), 'utf8');
  const b = Buffer.allocUnsafe(ACK_FIXED + msg.length);
  b.writeUInt32LE(ACK_MAGIC, 0);
  b.writeUInt32LE(putId, 4);
  b.writeUInt8(error === undefined ? 0 : 1, 8);
  b.writeUInt8(0, 9);
  b.writeUInt16LE(msg.length, 10);
  msg.copy(b, ACK_FIXED);
  return b;
}

/** Collects exactly `need` bytes across chunks (headers only; payloads never pass through here). */
class Gather {
  private parts: Buffer[] = [];
  private have = 0;
  need = 0;

  /** Takes what it still needs from chunk[pos..]; returns the new position. */
  take(chunk: Buffer, pos: number): number {
    const n = Math.min(this.need - this.have, chunk.length - pos);
    this.parts.push(chunk.subarray(pos, pos + n));
    this.have += n;
    return pos + n;
  }

  get full(): boolean {
    return this.have === this.need;
  }

  drain(): Buffer {
    const b = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.have);
    this.parts = [];
    this.have = 0;
    return b;
  }
}

/** A region as the decoder writes into it: its bytes, and the guard its puts must pass. */
export interface ReceivingRegion {
  bytes: Uint8Array;
  guard?: PutGuard;
}

export type RegionLookup = (regionId: string) => ReceivingRegion | undefined;

interface CurrentPut {
  putId: number;
  regionId: string;
  grantLen: number;
  nOps: number;
  total: number;
  target?: Uint8Array;
  ops?: Float64Array; // [remoteOffset, length]*
  op: number;
  opDone: number;
  left: number; // payload bytes still to come
  error?: string;
}

/**
 * Receiver side: parses put frames from a byte stream and writes their payloads into regions.
 * `onDone(putId, error?)` fires when a put's last byte was consumed (error: refused, nothing
 * written). A malformed stream throws TransferError('protocol'); the connection must then close.
 */
export class PutFrameDecoder {
  private state: 'fixed' | 'header' | 'payload' = 'fixed';
  private readonly gather = new Gather();
  private cur: CurrentPut | undefined;
  /** Payload bytes written into regions. */
  bytesWritten = 0;
  puts = 0;

  constructor(
    private readonly lookup: RegionLookup,
    private readonly onDone: (putId: number, error: string | undefined, regionId: string) => void,
  ) {
    this.gather.need = PUT_FIXED;
  }

  push(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.state === 'payload') {
        pos = this.payload(chunk, pos);
        continue;
      }
      pos = this.gather.take(chunk, pos);
      if (!this.gather.full) break;
      const b = this.gather.drain();
      if (this.state === 'fixed') this.fixed(b);
      else this.header(b);
    }
  }

  private fixed(b: Buffer): void {
    if (b.readUInt32LE(0) !== PUT_MAGIC) throw new TransferError('protocol', 'not a Tandem transfer stream (bad put magic)');
    const nOps = b.readUInt32LE(8);
    const idLen = b.readUInt16LE(12);
    const grantLen = b.readUInt16LE(14);
    if (nOps > MAX_OPS || idLen > MAX_REGION_ID || grantLen > MAX_GRANT_BYTES) throw new TransferError('protocol', 'put header exceeds the protocol limits');
    this.cur = { putId: b.readUInt32LE(4), regionId: '', grantLen, nOps, total: readU64(b, 16), op: 0, opDone: 0, left: 0 };
    this.state = 'header';
    this.gather.need = idLen + grantLen + 16 * nOps;
    if (this.gather.need === 0) this.header(Buffer.alloc(0));
  }

  private header(b: Buffer): void {
    const cur = this.cur!;
    const idLen = b.length - cur.grantLen - 16 * cur.nOps;
    cur.regionId = b.toString('utf8', 0, idLen);
    const grant = cur.grantLen > 0 ? b.toString('utf8', idLen, idLen + cur.grantLen) : undefined;
    const at = idLen + cur.grantLen;
    const ops = new Float64Array(2 * cur.nOps);
    let sum = 0;
    for (let i = 0; i < cur.nOps; i++) {
      ops[2 * i] = readU64(b, at + 16 * i);
      ops[2 * i + 1] = readU64(b, at + 16 * i + 8);
      sum += ops[2 * i + 1]!;
    }
    if (sum !== cur.total) throw new TransferError('protocol', 'put header lengths do not add up to its payload size');
    cur.ops = ops;
    cur.left = cur.total;
    const region = this.lookup(cur.regionId);
    if (!region) {
      cur.error = `unknown_region: no region '${cur.regionId}' is registered here`;
    } else {
      const target = region.bytes;
      for (let i = 0; i < cur.nOps; i++) {
        const end = ops[2 * i]! + ops[2 * i + 1]!;
        if (end > target.byteLength) {
          cur.error = `out_of_range: range ${i} ends at ${end}, beyond the ${target.byteLength}-byte region '${cur.regionId}'`;
          break;
        }
      }
      if (!cur.error && region.guard) {
        const ranges: GuardedRange[] = [];
        for (let i = 0; i < cur.nOps; i++) ranges.push({ offset: ops[2 * i]!, length: ops[2 * i + 1]! });
        const refused = region.guard(grant, ranges);
        if (refused !== undefined) cur.error = `not_granted: ${refused}`;
      }
      if (!cur.error) cur.target = target;
    }
    this.state = 'payload';
    this.skipEmptyOps();
    if (cur.left === 0) this.finish();
  }

  private skipEmptyOps(): void {
    const cur = this.cur!;
    while (cur.op < cur.nOps && cur.ops![2 * cur.op + 1] === 0) cur.op++;
  }

  private payload(chunk: Buffer, pos: number): number {
    const cur = this.cur!;
    if (!cur.target) {
      // Refused put: read its payload off the stream and drop it.
      const n = Math.min(cur.left, chunk.length - pos);
      cur.left -= n;
      if (cur.left === 0) this.finish();
      return pos + n;
    }
    while (pos < chunk.length && cur.left > 0) {
      const off = cur.ops![2 * cur.op]!;
      const len = cur.ops![2 * cur.op + 1]!;
      const n = Math.min(len - cur.opDone, chunk.length - pos);
      cur.target.set(chunk.subarray(pos, pos + n), off + cur.opDone);
      pos += n;
      cur.opDone += n;
      cur.left -= n;
      this.bytesWritten += n;
      if (cur.opDone === len) {
        cur.op++;
        cur.opDone = 0;
        this.skipEmptyOps();
      }
    }
    if (cur.left === 0) this.finish();
    return pos;
  }

  private finish(): void {
    const cur = this.cur!;
    this.cur = undefined;
    this.state = 'fixed';
    this.gather.need = PUT_FIXED;
    if (!cur.error) this.puts++;
    this.onDone(cur.putId, cur.error, cur.regionId);
  }
}

/** Sender side: parses acks. */
export class AckDecoder {
  private readonly gather = new Gather();
  private putId = 0;
  private status = 0;
  private inMessage = false;

  constructor(private readonly onAck: (putId: number, error?: string) => void) {
    this.gather.need = ACK_FIXED;
  }

  push(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length) {
      pos = this.gather.take(chunk, pos);
      if (!this.gather.full) break;
      const b = this.gather.drain();
      if (!this.inMessage) {
        if (b.readUInt32LE(0) !== ACK_MAGIC) throw new TransferError('protocol', 'not a Tandem transfer stream (bad ack magic)');
        this.putId = b.readUInt32LE(4);
        this.status = b.readUInt8(8);
        const msgLen = b.readUInt16LE(10);
        if (msgLen > 0) {
          this.inMessage = true;
          this.gather.need = msgLen;
          continue;
        }
        this.emit('');
      } else {
        this.emit(b.toString('utf8'));
      }
    }
  }

  private emit(message: string): void {
    this.inMessage = false;
    this.gather.need = ACK_FIXED;
    this.onAck(this.putId, this.status === 0 ? undefined : message || 'refused by the receiver');
  }
}
