/**
 * Streaming safetensors writer and Hugging Face-style sharding. Tensors are declared up front
 * (name, dtype, shape) so the header can be written first; each tensor's bytes are produced on
 * demand and written straight to disk, so a checkpoint never has to fit in memory.
 */
import { open, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { dtypeByteSize, isSafetensorsDtype, type SafetensorsDtype } from './dtype.js';
import { CheckpointError } from './errors.js';

export interface TensorSource {
  name: string;
  dtype: SafetensorsDtype;
  shape: readonly number[];
  /** Produces the tensor's raw little-endian bytes; called once, when the tensor is written. */
  produce(): Uint8Array | Promise<Uint8Array>;
}

export interface WriteProgress {
  /** Called after each tensor with cumulative tensor-data bytes written and the total. */
  onBytes?: (doneBytes: number) => void;
}

export const SINGLE_FILE_NAME = 'model.safetensors';
export const INDEX_FILE_NAME = 'model.safetensors.index.json';

export function tensorByteLength(t: Pick<TensorSource, 'name' | 'dtype' | 'shape'>): number {
  if (!isSafetensorsDtype(t.dtype)) {
    throw new CheckpointError('unknown_dtype', `unknown dtype '${String(t.dtype)}' for tensor '${t.name}'`);
  }
  let n = dtypeByteSize(t.dtype);
  for (const d of t.shape) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new CheckpointError('bad_argument', `tensor '${t.name}' has invalid shape ${JSON.stringify(t.shape)}`);
    }
    n *= d;
  }
  return n;
}

/**
 * The complete header (8-byte length + JSON padded with spaces so the data section starts
 * 64-byte aligned: quantized codes, whose sizes are multiples of 64 and which come first, are
 * then cache-line aligned when the file is mapped) for tensors written back to back in order.
 */
export function buildHeader(
  tensors: ReadonlyArray<Pick<TensorSource, 'name' | 'dtype' | 'shape'>>,
  metadata: Record<string, string> = { format: 'pt' },
): Uint8Array {
  const obj: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) obj.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    if (t.name === '__metadata__' || Object.prototype.hasOwnProperty.call(obj, t.name)) {
      throw new CheckpointError('bad_argument', `tensor name '${t.name}' is reserved or duplicated`);
    }
    const len = tensorByteLength(t);
    obj[t.name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + len] };
    offset += len;
  }
  const json = new TextEncoder().encode(JSON.stringify(obj));
  const padded = Math.ceil((json.length + 8) / 64) * 64 - 8;
  const out = new Uint8Array(8 + padded).fill(0x20);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  return out;
}

/**
 * Writes one safetensors file: header first, then each tensor's produced bytes in order. Writes
 * to `path + '.tmp'` and renames at the end, so a crash never leaves a half-written file in place.
 * Returns the number of tensor-data bytes written.
 */
export async function writeSafetensorsFile(
  path: string,
  tensors: ReadonlyArray<TensorSource>,
  opts: WriteProgress & { metadata?: Record<string, string> } = {},
): Promise<number> {
  const header = buildHeader(tensors, opts.metadata);
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w');
  let done = 0;
  try {
    await writeAll(fh, header);
    for (const t of tensors) {
      const want = tensorByteLength(t);
      const bytes = await t.produce();
      if (bytes.length !== want) {
        throw new CheckpointError(
          'bad_argument',
          `tensor '${t.name}' (${t.dtype} ${JSON.stringify(t.shape)}) produced ${bytes.length} bytes, expected ${want}`,
        );
      }
      await writeAll(fh, bytes);
      done += want;
      opts.onBytes?.(done);
    }
    await fh.close();
  } catch (e) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw e;
  }
  await rename(tmp, path);
  return done;
}

async function writeAll(fh: import('node:fs/promises').FileHandle, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) {
    const { bytesWritten } = await fh.write(bytes, off, bytes.length - off);
    off += bytesWritten;
  }
}

export function shardFileName(i: number, n: number): string {
  return `model-${String(i + 1).padStart(5, '0')}-of-${String(n).padStart(5, '0')}.safetensors`;
}

/**
 * Greedy split in declaration order: a shard is closed when the next tensor would push it past
 * `maxShardBytes`; a tensor larger than the limit gets a shard of its own.
 */
export function planShards<T extends Pick<TensorSource, 'name' | 'dtype' | 'shape'>>(
  tensors: readonly T[],
  maxShardBytes: number,
): T[][] {
  const shards: T[][] = [];
  let cur: T[] = [];
  let size = 0;
  for (const t of tensors) {
    const len = tensorByteLength(t);
    if (cur.length > 0 && size + len > maxShardBytes) {
      shards.push(cur);
      cur = [];
      size = 0;
    }
    cur.push(t);
    size += len;
  }
  if (cur.length > 0 || shards.length === 0) shards.push(cur);
  return shards;
}

export interface ShardOptions {
  /** Largest tensor-data size per file; `Infinity` (default) writes a single model.safetensors. */
  maxShardBytes?: number;
  /** Called after each tensor with cumulative bytes written and the total tensor-data bytes. */
  onProgress?: (doneBytes: number, totalBytes: number) => void;
  metadata?: Record<string, string>;
}

export interface WrittenCheckpoint {
  /** File names (relative to `dir`) of the safetensors files, in order. */
  files: string[];
  /** model.safetensors.index.json when sharded. */
  indexFile?: string;
  totalBytes: number;
  tensorCount: number;
}

const WEIGHT_FILE = /^model(-\d{5}-of-\d{5})?\.safetensors(\.index\.json|\.tmp)?$/;

/**
 * Writes the tensors as `model.safetensors`, or — when they exceed `maxShardBytes` — as
 * `model-0000N-of-0000M.safetensors` plus `model.safetensors.index.json`
 * (`{metadata: {total_size}, weight_map}`). Weight files of an earlier write in `dir` that are
 * not part of this one are removed, so the directory always describes exactly one checkpoint.
 * Tensor descriptors are collected first (cheap); bytes are produced one tensor at a time.
 */
export async function writeCheckpointShards(
  dir: string,
  tensors: Iterable<TensorSource>,
  opts: ShardOptions = {},
): Promise<WrittenCheckpoint> {
  const list = [...tensors];
  const maxShardBytes = opts.maxShardBytes ?? Infinity;
  if (!(maxShardBytes > 0)) {
    throw new CheckpointError('bad_argument', `maxShardBytes must be positive, got ${maxShardBytes}`);
  }
  const totalBytes = list.reduce((a, t) => a + tensorByteLength(t), 0);
  const shards = planShards(list, maxShardBytes);
  const files = shards.length === 1 ? [SINGLE_FILE_NAME] : shards.map((_, i) => shardFileName(i, shards.length));

  const keep = new Set(files);
  if (shards.length > 1) keep.add(INDEX_FILE_NAME);
  for (const f of await readdir(dir)) {
    if (WEIGHT_FILE.test(f) && !keep.has(f)) await rm(join(dir, f), { force: true });
  }

  let before = 0;
  opts.onProgress?.(0, totalBytes);
  for (let i = 0; i < shards.length; i++) {
    const base = before;
    before += await writeSafetensorsFile(join(dir, files[i]!), shards[i]!, {
      metadata: opts.metadata,
      onBytes: (done) => opts.onProgress?.(base + done, totalBytes),
    });
  }

  if (shards.length === 1) return { files, totalBytes, tensorCount: list.length };

  const weightMap: Record<string, string> = {};
  shards.forEach((s, i) => s.forEach((t) => (weightMap[t.name] = files[i]!)));
  const index = { metadata: { total_size: totalBytes }, weight_map: weightMap };
  const fh = await open(join(dir, `${INDEX_FILE_NAME}.tmp`), 'w');
  try {
    await fh.writeFile(JSON.stringify(index, null, 2) + '\n');
  } finally {
    await fh.close();
  }
  await rename(join(dir, `${INDEX_FILE_NAME}.tmp`), join(dir, INDEX_FILE_NAME));
  return { files, indexFile: INDEX_FILE_NAME, totalBytes, tensorCount: list.length };
}
