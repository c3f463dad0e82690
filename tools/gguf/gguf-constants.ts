/**
 * GGUF v3 numbering (ggml's gguf.h / ggml.h, gguf-py constants): metadata value types, the
 * ggml tensor types this writer produces, and llama.cpp's `general.file_type` values.
 */

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_VERSION = 3;
/** Default `general.alignment`: tensor data offsets are multiples of it. */
export const GGUF_ALIGNMENT = 32;

export enum GgufValueType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

export enum GgmlType {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q8_0 = 8,
  BF16 = 30,
}

/** llama.cpp's LLAMA_FTYPE_* (the `general.file_type` key). */
export enum LlamaFileType {
  ALL_F32 = 0,
  MOSTLY_F16 = 1,
  MOSTLY_Q4_0 = 2,
  MOSTLY_Q8_0 = 7,
  MOSTLY_BF16 = 32,
}

/** Elements per block and bytes per block of each type (1-element "blocks" for the float types). */
export const GGML_BLOCK: Readonly<Record<GgmlType, { elements: number; bytes: number }>> = {
  [GgmlType.F32]: { elements: 1, bytes: 4 },
  [GgmlType.F16]: { elements: 1, bytes: 2 },
  [GgmlType.BF16]: { elements: 1, bytes: 2 },
  [GgmlType.Q8_0]: { elements: 32, bytes: 34 }, // fp16 scale + 32 x int8
  [GgmlType.Q4_0]: { elements: 32, bytes: 18 }, // fp16 scale + 16 bytes of nibbles
};

/** Bytes of a row of `n` elements of `type` (n must be a multiple of the block size). */
export function ggmlRowBytes(type: GgmlType, n: number): number {
  const b = GGML_BLOCK[type];
  if (n % b.elements !== 0) throw new RangeError(`a ${GgmlType[type]} row needs a multiple of ${b.elements} elements, got ${n}`);
  return (n / b.elements) * b.bytes;
}
