/**
 * Typed access to the native kernels addon (kernels/build/Release/tandem_kernels.node).
 * Built by `npm install` (kernels/build.mjs). Everything here is synchronous except
 * `TextModel.forward`, which runs on a native thread and resolves when the logits are written.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type KernelImpl = 'scalar' | 'avx2' | 'avx512' | 'avx512bf16' | 'active';
export type KvDtype = 'bf16' | 'fp32';

/** Layout of one KV cache buffer: [layer][k|v][block][slot][kvHead][headDim]. */
export interface KvLayout {
  layers: number;
  numBlocks: number;
  blockSize: number;
  kvHeads: number;
  headDim: number;
  dtype: KvDtype;
}

/** A linear layer: bf16 bits, or weights already quantized (pre-quantized checkpoints). */
export type NativeLinear = Uint16Array | QuantizedMatrix;

export interface NativeMlp {
  gate: NativeLinear;
  up: NativeLinear;
  down: NativeLinear;
}

export interface NativeLayer {
  inputNorm: Float32Array;
  postNorm: Float32Array;
  q: NativeLinear;
  k: NativeLinear;
  v: NativeLinear;
  o: NativeLinear;
  mlp:
    | ({ kind: 'dense' } & NativeMlp)
    | { kind: 'moe'; router: Float32Array; bias: Float32Array; experts: NativeMlp[]; shared?: NativeMlp };
}

export interface NativeModelDims {
  hidden: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  vocab: number;
  layers: number;
  intermediate: number;
  numExperts: number;
  topK: number;
  moeIntermediate: number;
  sharedIntermediate: number;
  eps: number;
  ropeTheta: number;
  moeNormMin: number;
  /** Tokens per forward call (activation buffers are sized for it once). */
  maxTokens: number;
  /** Longest context a sequence may reach. */
  maxCtx: number;
}

export interface NativeModelSpec {
  dims: NativeModelDims;
  isa?: KernelImpl;
  weights: { embed: Uint16Array; lmHead: NativeLinear; finalNorm: Float32Array; layers: NativeLayer[] };
  /**
   * Quantize every bf16 linear layer at construction (attention, MLPs, all experts, and the LM
   * head unless lmHead is false); the embedding table stays bf16.
   */
  quantization?: { bits: QuantBits; group: number; lmHead?: boolean; rotate?: boolean; headBits?: QuantBits; zeroPoints?: boolean };
}

/** One mixed batch: tokens of sequence s are ids[qStart[s] .. qStart[s+1]). */
export interface NativeBatch {
  ids: Int32Array;
  positions: Int32Array;
  qStart: Int32Array;
  /** [S, btStride] physical block ids of each sequence. */
  blockTables: Int32Array;
  btStride: number;
  /** Token indices whose logits are wanted, in output order. */
  logitRows: Int32Array;
}

export interface NativeTextModel {
  /**
   * `onLayer(l)` is called once layer l's K/V of the whole batch are in the cache; the calls may
   * arrive after the promise settles (ModelRunner puts them in order).
   */
  forward(batch: NativeBatch, kv: ArrayBuffer, layout: KvLayout, logits: Float32Array, onLayer?: (layer: number) => void): Promise<void>;
}

export interface NativeOps {
  gemmBf16(x: Float32Array, M: number, K: number, W: Uint16Array, N: number, y: Float32Array, impl?: KernelImpl): void;
  gemmF32(x: Float32Array, M: number, K: number, W: Float32Array, N: number, y: Float32Array, impl?: KernelImpl): void;
  rmsnorm(x: Float32Array, rows: number, cols: number, w: Float32Array, eps: number, out: Float32Array, impl?: KernelImpl): void;
  embedding(table: Uint16Array, vocab: number, H: number, ids: Int32Array, out: Float32Array, impl?: KernelImpl): void;
  rope(x: Float32Array, T: number, heads: number, headDim: number, positions: Int32Array, theta: number): void;
  kvStore(k: Float32Array, v: Float32Array, T: number, slots: Int32Array, kv: ArrayBuffer, layout: KvLayout, layer: number): void;
  attention(
    q: Float32Array, T: number, heads: number, positions: Int32Array, tokSeq: Int32Array, blockTables: Int32Array,
    btStride: number, kv: ArrayBuffer, layout: KvLayout, layer: number, out: Float32Array, impl?: KernelImpl,
  ): void;
  siluMul(g: Float32Array, u: Float32Array, out: Float32Array): void;
  moeRoute(logits: Float32Array, T: number, E: number, bias: Float32Array, k: number, normMin: number, sel: Int32Array, weights: Float32Array): void;
  dotBf16(a: Float32Array, b: Uint16Array, impl?: KernelImpl): number;
  sumSquares(x: Float32Array, impl?: KernelImpl): number;
  axpyBf16(alpha: number, v: Uint16Array, out: Float32Array, impl?: KernelImpl): void;
  /** y[M, N] = x . W^T with W quantized (see QuantizedMatrix); activations are quantized per row. */
  gemmQ(
    x: Float32Array, M: number, K: number, data: Uint8Array, scales: Float32Array, N: number, bits: QuantBits,
    group: number, y: Float32Array, impl?: KernelImpl, rotated?: boolean, zeros?: Uint8Array,
  ): void;
}

export type QuantBits = 8 | 4;

/**
 * A weight-only quantized matrix [rows, cols] in the layout of kernels/src/quant.h (and of
 * docs/quantization.md): `data` holds rows x rowBytes bytes, `scales` rows x groups fp32 scales.
 */
export interface QuantizedMatrix {
  bits: QuantBits;
  group: number;
  data: Uint8Array;
  scales: Float32Array;
  /** Quantized from Hadamard-rotated rows (quant.h `Linear::rotated`): activations are rotated too. */
  rotated?: boolean;
  /** 4 bits, asymmetric: one zero point in [0, 15] per group, rows x groups bytes (quant.h `Linear::zeros`). */
  zeros?: Uint8Array;
}

export interface NativeAddon {
  info(): { isa: 'scalar' | 'avx2' | 'avx512' | 'avx512bf16'; bestIsa: 'scalar' | 'avx2' | 'avx512'; bf16Dot: boolean; threads: number };
  setThreads(n: number): number;
  mmapFile(path: string): ArrayBuffer;
  allocKvBuffer(bytes: number): ArrayBuffer;
  /** Streaming-read bandwidth in bytes/s (same threads and ISA as the kernels). */
  probeBandwidth(bytes?: number, repeats?: number): number;
  /** FMA throughput in FLOP/s (same threads and ISA as the kernels). */
  probeFlops(iters?: number, repeats?: number): number;
  /** Integer multiply-accumulates per second in the instruction of the active quantized kernels. */
  probeInt8Macs(iters?: number, repeats?: number): number;
  /** The quantized kernel table in use: 'scalar' | 'avx2' | 'avx512vnni'. */
  quantKernels(): string;
  /** Quantizes a bf16 matrix [rows, cols] (deterministic; parallel on the kernel threads). */
  quantizeWeights(
    W: Uint16Array, rows: number, cols: number, bits: QuantBits, group: number, rotate?: boolean, zeroPoints?: boolean,
  ): { data: Uint8Array; scales: Float32Array; zeros?: Uint8Array };
  ops: NativeOps;
  TextModel: new (spec: NativeModelSpec) => NativeTextModel;
}

function locateAddon(): string {
  // Works from the sources (kernels/ts) and from the compiled tree (dist/kernels/ts).
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'kernels', 'build', 'Release', 'tandem_kernels.node');
    if (existsSync(candidate)) return candidate;
    const sibling = join(dir, 'build', 'Release', 'tandem_kernels.node');
    if (existsSync(sibling)) return sibling;
    dir = dirname(dir);
  }
  throw new Error('native kernels are not built: run `npm install` (or `npm run build:kernels`) in the repository root');
}

const require = createRequire(import.meta.url);
export const native: NativeAddon = require(locateAddon()) as NativeAddon;

export function kvBytes(layout: KvLayout): number {
  const elem = layout.dtype === 'bf16' ? 2 : 4;
  return layout.layers * 2 * layout.numBlocks * layout.blockSize * layout.kvHeads * layout.headDim * elem;
}
