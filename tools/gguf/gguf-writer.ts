/**
 * A GGUF v3 file writer: metadata key/values, then tensor descriptors, then the tensor data,
 * each tensor at an offset aligned to `general.alignment` (32). Tensor bytes are produced one
 * tensor at a time while writing, so a converter never holds more than one tensor's bytes.
 *
 * Dimensions are given in ggml order: ne[0] is the contiguous one, so a row-major [rows, cols]
 * matrix is written with dims [cols, rows].
 */
import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { GGML_BLOCK, GGUF_ALIGNMENT, GGUF_MAGIC, GGUF_VERSION, GgmlType, GgufValueType, ggmlRowBytes } from './gguf-constants.js';

export interface GgufTensor {
  name: string;
  dims: number[];
  type: GgmlType;
  /** The tensor's bytes in ggml layout; called once, while the file is written. */
  data: () => Uint8Array;
}

/** Growable little-endian byte buffer for the header. */
class Bytes {
  private buf = Buffer.alloc(1 << 16);
  length = 0;
  private need(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }
  u32(v: number): void {
    this.need(4);
    this.length = this.buf.writeUInt32LE(v, this.length);
  }
  i32(v: number): void {
    this.need(4);
    this.length = this.buf.writeInt32LE(v, this.length);
  }
  u64(v: number): void {
    this.need(8);
    this.length = this.buf.writeBigUInt64LE(BigInt(v), this.length);
  }
  f32(v: number): void {
    this.need(4);
    this.length = this.buf.writeFloatLE(v, this.length);
  }
  u8(v: number): void {
    this.need(1);
    this.length = this.buf.writeUInt8(v, this.length);
  }
  str(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.need(b.length);
    this.length += b.copy(this.buf, this.length);
  }
  bytes(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

type Kv = (out: Bytes) => void;

export class GgufWriter {
  private readonly kvs = new Map<string, Kv>();
  private readonly tensors: GgufTensor[] = [];

  private kv(key: string, type: GgufValueType, write: (o: Bytes) => void): this {
    this.kvs.set(key, (o) => {
      o.str(key);
      o.u32(type);
      write(o);
    });
    return this;
  }

  u32(key: string, v: number): this {
    return this.kv(key, GgufValueType.UINT32, (o) => o.u32(v));
  }
  f32(key: string, v: number): this {
    return this.kv(key, GgufValueType.FLOAT32, (o) => o.f32(v));
  }
  bool(key: string, v: boolean): this {
    return this.kv(key, GgufValueType.BOOL, (o) => o.u8(v ? 1 : 0));
  }
  string(key: string, v: string): this {
    return this.kv(key, GgufValueType.STRING, (o) => o.str(v));
  }
  private array<T>(key: string, elem: GgufValueType, values: readonly T[], put: (o: Bytes, v: T) => void): this {
    return this.kv(key, GgufValueType.ARRAY, (o) => {
      o.u32(elem);
      o.u64(values.length);
      for (const v of values) put(o, v);
    });
  }
  strings(key: string, values: readonly string[]): this {
    return this.array(key, GgufValueType.STRING, values, (o, v) => o.str(v));
  }
  f32s(key: string, values: readonly number[]): this {
    return this.array(key, GgufValueType.FLOAT32, values, (o, v) => o.f32(v));
  }
  i32s(key: string, values: readonly number[]): this {
    return this.array(key, GgufValueType.INT32, values, (o, v) => o.i32(v));
  }

  addTensor(t: GgufTensor): this {
    if (this.tensors.some((x) => x.name === t.name)) throw new Error(`duplicate tensor '${t.name}'`);
    if (t.name.length >= 64) throw new RangeError(`tensor name '${t.name}' is longer than GGML_MAX_NAME - 1`);
    this.tensors.push(t);
    return this;
  }

  /** Writes the file (to `path`.tmp, renamed at the end so a crash never leaves a partial file); returns its size. */
  write(path: string, onTensor?: (index: number, count: number, name: string) => void): number {
    const header = new Bytes();
    header.u32(GGUF_MAGIC);
    header.u32(GGUF_VERSION);
    header.u64(this.tensors.length);
    header.u64(this.kvs.size);
    for (const kv of this.kvs.values()) kv(header);
    const sizes = this.tensors.map((t) => tensorBytes(t));
    let offset = 0;
    for (let i = 0; i < this.tensors.length; i++) {
      const t = this.tensors[i]!;
      header.str(t.name);
      header.u32(t.dims.length);
      for (const d of t.dims) header.u64(d);
      header.u32(t.type);
      header.u64(offset);
      offset = align(offset + sizes[i]!);
    }
    const tmp = `${path}.tmp`;
    const fd = openSync(tmp, 'w');
    let pos = 0;
    const put = (b: Uint8Array) => {
      for (let done = 0; done < b.length; ) done += writeSync(fd, b, done, b.length - done);
      pos += b.length;
    };
    const pad = () => {
      if (pos % GGUF_ALIGNMENT) put(new Uint8Array(GGUF_ALIGNMENT - (pos % GGUF_ALIGNMENT)));
    };
    try {
      put(header.bytes());
      pad();
      this.tensors.forEach((t, i) => {
        onTensor?.(i, this.tensors.length, t.name);
        const data = t.data();
        if (data.length !== sizes[i]) throw new Error(`tensor '${t.name}': ${data.length} bytes, expected ${sizes[i]} for ${GgmlType[t.type]} [${t.dims.join(', ')}]`);
        put(data);
        pad();
      });
      closeSync(fd);
    } catch (e) {
      closeSync(fd);
      rmSync(tmp, { force: true });
      throw e;
    }
    renameSync(tmp, path);
    return pos;
  }
}

const align = (n: number) => Math.ceil(n / GGUF_ALIGNMENT) * GGUF_ALIGNMENT;

function tensorBytes(t: GgufTensor): number {
  const [ne0, ...rest] = t.dims;
  if (ne0 === undefined) throw new RangeError(`tensor '${t.name}' has no dimensions`);
  if (GGML_BLOCK[t.type] === undefined) throw new RangeError(`tensor '${t.name}': unsupported ggml type ${t.type}`);
  return rest.reduce((n, d) => n * d, ggmlRowBytes(t.type, ne0));
}
