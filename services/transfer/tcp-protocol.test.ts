import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { TransferError } from './errors.js';
import { AckDecoder, PutFrameDecoder, encodeAck, encodePutHeader } from './tcp-protocol.js';
import type { WriteOp } from './types.js';

function frame(putId: number, regionId: string, source: Uint8Array, ops: WriteOp[], grant?: string): Buffer {
  return Buffer.concat([encodePutHeader(putId, regionId, ops, grant), ...ops.map((o) => source.subarray(o.localOffset, o.localOffset + o.length))]);
}

function splitEvery(b: Buffer, sizes: number[]): Buffer[] {
  const out: Buffer[] = [];
  let pos = 0;
  let i = 0;
  while (pos < b.length) {
    const n = sizes[i++ % sizes.length]!;
    out.push(b.subarray(pos, pos + n));
    pos += n;
  }
  return out;
}

describe('PutFrameDecoder', () => {
  const source = new Uint8Array(randomBytes(5000));
  const ops: WriteOp[] = [
    { localOffset: 0, remoteOffset: 100, length: 1000 },
    { localOffset: 1000, remoteOffset: 0, length: 0 },
    { localOffset: 2000, remoteOffset: 3000, length: 3000 },
  ];
  const expected = () => {
    const r = new Uint8Array(8000).fill(0xee);
    r.set(source.subarray(0, 1000), 100);
    r.set(source.subarray(2000, 5000), 3000);
    return r;
  };

  it.each([[[1]], [[7, 3, 1]], [[24]], [[1 << 20]], [[4095, 1, 17]]])('writes payloads wherever the stream is split (chunks of %j)', (sizes) => {
    const region = new Uint8Array(8000).fill(0xee);
    const done: Array<[number, string | undefined]> = [];
    const d = new PutFrameDecoder((id) => (id === 'kv' ? { bytes: region } : undefined), (putId, err) => done.push([putId, err]));
    const stream = Buffer.concat([frame(7, 'kv', source, ops), frame(8, 'kv', source, [])]);
    for (const chunk of splitEvery(stream, sizes)) d.push(chunk);
    expect(done).toEqual([[7, undefined], [8, undefined]]);
    expect(Buffer.from(region).equals(Buffer.from(expected()))).toBe(true);
    expect(d.bytesWritten).toBe(4000);
  });

  it('refuses a put with any range out of bounds or an unknown region, writes none of it, and keeps going', () => {
    const region = new Uint8Array(8000).fill(0xee);
    const done: Array<[number, string | undefined]> = [];
    const d = new PutFrameDecoder((id) => (id === 'kv' ? { bytes: region } : undefined), (putId, err) => done.push([putId, err]));
    const bad = [{ localOffset: 0, remoteOffset: 0, length: 10 }, { localOffset: 10, remoteOffset: 7995, length: 6 }];
    const stream = Buffer.concat([frame(1, 'kv', source, bad), frame(2, 'nope', source, ops), frame(3, 'kv', source, ops)]);
    for (const chunk of splitEvery(stream, [333])) d.push(chunk);
    expect(done[0]![0]).toBe(1);
    expect(done[0]![1]).toMatch(/^out_of_range: /);
    expect(done[1]![0]).toBe(2);
    expect(done[1]![1]).toMatch(/^unknown_region: /);
    expect(done[2]).toEqual([3, undefined]);
    expect(Buffer.from(region).equals(Buffer.from(expected()))).toBe(true);
  });

  it('hands the grant and every range to the region guard before writing, wherever the stream is split', () => {
    const region = new Uint8Array(8000).fill(0xee);
    const seen: Array<[string | undefined, number]> = [];
    const guard = (grant: string | undefined, ranges: ReadonlyArray<{ offset: number; length: number }>) => {
      seen.push([grant, ranges.length]);
      return grant === 'lease-ü1' ? undefined : 'no such lease';
    };
    const done: Array<[number, string | undefined]> = [];
    const d = new PutFrameDecoder((id) => (id === 'kv' ? { bytes: region, guard } : undefined), (putId, err) => done.push([putId, err]));
    const stream = Buffer.concat([frame(1, 'kv', source, ops), frame(2, 'kv', source, ops, 'lease-other'), frame(3, 'kv', source, ops, 'lease-ü1')]);
    for (const chunk of splitEvery(stream, [5, 1, 13])) d.push(chunk);
    expect(done).toEqual([[1, 'not_granted: no such lease'], [2, 'not_granted: no such lease'], [3, undefined]]);
    expect(seen).toEqual([[undefined, 3], ['lease-other', 3], ['lease-ü1', 3]]);
    // Only the granted put landed.
    expect(Buffer.from(region).equals(Buffer.from(expected()))).toBe(true);
  });

  it('rejects a stream that is not the protocol', () => {
    const d = new PutFrameDecoder(() => undefined, () => {});
    expect(() => d.push(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))).toThrow(TransferError);
  });

  it('rejects a header whose ranges do not add up to its payload size', () => {
    const h = encodePutHeader(1, 'kv', [{ localOffset: 0, remoteOffset: 0, length: 10 }]);
    h.writeUInt32LE(11, 16); // totalBytes
    const d = new PutFrameDecoder(() => ({ bytes: new Uint8Array(100) }), () => {});
    expect(() => d.push(h)).toThrow(/add up/);
  });
});

describe('AckDecoder', () => {
  it('parses acks and error messages split anywhere', () => {
    const got: Array<[number, string | undefined]> = [];
    const d = new AckDecoder((id, err) => got.push([id, err]));
    const stream = Buffer.concat([encodeAck(1), encodeAck(2, 'out_of_range: too far'), encodeAck(3)]);
    for (const chunk of splitEvery(stream, [1, 5])) d.push(chunk);
    expect(got).toEqual([[1, undefined], [2, 'out_of_range: too far'], [3, undefined]]);
  });
});
