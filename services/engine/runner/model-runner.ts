import { native, type KernelImpl, type KvDtype, type NativeTextModel } from '../../../kernels/ts/index.js';
import { PagedKvCache } from '../kv/kv-cache.js';
import type { TextModelWeights } from '../model-types.js';
import type { NativeVlBatch } from '../../../kernels/ts/vision.js';
import type { VlChunkInputs } from '../vl/vl-inputs.js';
import type { VlModelWeights } from '../vl-model-types.js';
import { nativeSpecFor } from './native-spec.js';
import { nativeVlTextSpecFor } from './vl-native-spec.js';
import { quantGroup, quantHeadBits, quantizationBits, quantLayout, quantRotation, quantZeroPoints, type QuantRotation, type Quantization } from '../../protocol/quantization.js';

/** One sequence's share of a forward step: `tokens` at positions startPos.. of that sequence. */
export interface SequenceChunk {
  tokens: ArrayLike<number>;
  startPos: number;
  /** Physical KV block ids of the sequence, covering at least startPos + tokens.length positions. */
  blockTable: ArrayLike<number>;
  /** Which of the chunk's positions get logits back. */
  logits: 'none' | 'last' | 'all';
  /** VL models: the chunk's modality, 3-D positions and image rows (absent = text at 1-D positions). */
  vl?: VlChunkInputs;
}

export interface ModelRunnerOptions {
  numBlocks: number;
  blockSize?: number;
  kvDtype?: KvDtype;
  /** Most tokens one forward step may carry (prefill chunks + decode tokens). */
  maxBatchTokens?: number;
  /** Longest context (prompt + output) of a sequence; defaults to the model's max_position_embeddings. */
  maxModelLen?: number;
  isa?: KernelImpl;
  /** The whole VL model when `weights` is its text decoder (ernie4_5_vl_moe). */
  vl?: VlModelWeights;
  /** Weight-only quantization applied at load (protocol/quantization.ts); default none. */
  quantization?: Quantization;
  /** Memory for the KV pool (see PagedKvCache); allocated natively when absent. */
  kvBuffer?: ArrayBuffer;
}

/**
 * Runs the native ERNIE-4.5 forward pass over a paged KV cache. One `forward` call takes a mixed
 * batch (prefill chunks and decode tokens of many sequences) and returns, per chunk, the logits
 * rows asked for. Compute runs on the addon's thread pool; the event loop stays free.
 */
export class ModelRunner {
  readonly kv: PagedKvCache;
  readonly maxBatchTokens: number;
  readonly maxModelLen: number;
  readonly vocabSize: number;
  private readonly model: NativeTextModel;
  /** Set for VL models: forward steps then carry modality, 3-D RoPE and image embeddings. */
  readonly vl: VlModelWeights | undefined;
  readonly quantization: Quantization;
  /** How its quantized matrices were rotated (part of the numerics P/D pairs must share). */
  readonly quantRotation: QuantRotation;
  /** Group size, zero points and head bits of its quantized matrices (`quantLayout`); undefined when not quantized. */
  readonly quantLayout?: string;
  /** The instruction set its kernels run (what the determinism contract is relative to). */
  readonly isa: string;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly weights: TextModelWeights, opts: ModelRunnerOptions) {
    const c = weights.config;
    this.maxBatchTokens = opts.maxBatchTokens ?? 512;
    this.maxModelLen = opts.maxModelLen ?? c.maxPositionEmbeddings;
    this.vocabSize = c.vocabSize;
    this.kv = new PagedKvCache({
      layers: c.numLayers,
      numBlocks: opts.numBlocks,
      blockSize: opts.blockSize ?? 16,
      kvHeads: c.numKvHeads,
      headDim: c.headDim,
      dtype: opts.kvDtype ?? 'bf16',
    }, opts.kvBuffer);
    this.vl = opts.vl;
    this.isa = modelIsa(opts.isa);
    const limits = { maxTokens: this.maxBatchTokens, maxCtx: this.maxModelLen, isa: opts.isa };
    const spec = opts.vl ? nativeVlTextSpecFor(opts.vl, limits) : nativeSpecFor(weights, limits);
    // A pre-quantized checkpoint is served as stored; asking for another scheme is a mistake.
    const stored = weights.config.quantization?.scheme;
    const asked = opts.quantization ?? 'none';
    if (stored && asked !== 'none' && asked !== stored) {
      throw new RangeError(`the checkpoint is stored pre-quantized as ${stored}; start it with --quantization ${stored} (or none, which serves it as stored), not ${asked}`);
    }
    this.quantization = stored ?? asked;
    this.quantRotation = weights.config.quantization?.rotation ?? quantRotation(asked);
    const sq = weights.config.quantization;
    const layout = sq
      ? quantLayout(sq.group, sq.headBits, sq.zeroPoints)
      : quantizationBits(asked) ? quantLayout(quantGroup(asked), quantHeadBits(asked)!, quantZeroPoints(asked)) : undefined;
    if (layout) this.quantLayout = layout;
    const bits = stored ? undefined : quantizationBits(asked);
    this.model = new native.TextModel(
      bits
        ? { ...spec, quantization: { bits, group: quantGroup(asked), rotate: quantRotation(asked) === 'down-hadamard128', headBits: quantHeadBits(asked)!, zeroPoints: quantZeroPoints(asked) } }
        : spec,
    );
  }

  get blockSize(): number {
    return this.kv.layout.blockSize;
  }

  /**
   * Runs one step; resolves to one Float32Array of [rows, vocab] logits per chunk (empty for
   * 'none'). `onLayer(l)` is called for every layer in order, as soon as layer l's KV is cached,
   * and always for all layers before the promise resolves.
   */
  forward(chunks: SequenceChunk[], onLayer?: (layer: number) => void): Promise<Float32Array[]> {
    // Calls are serialized: the native model owns one set of activation buffers.
    const run = this.queue.then(() => this.runStep(chunks, onLayer));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async runStep(chunks: SequenceChunk[], onLayer?: (layer: number) => void): Promise<Float32Array[]> {
    if (chunks.length === 0) return [];
    const bs = this.blockSize;
    let T = 0;
    let stride = 1;
    for (const c of chunks) {
      if (c.tokens.length === 0) throw new RangeError('a sequence chunk has no tokens');
      T += c.tokens.length;
      stride = Math.max(stride, Math.ceil((c.startPos + c.tokens.length) / bs));
    }
    if (T > this.maxBatchTokens) throw new RangeError(`a step carries ${T} tokens, more than maxBatchTokens ${this.maxBatchTokens}`);
    const ids = new Int32Array(T);
    const positions = new Int32Array(T);
    const qStart = new Int32Array(chunks.length + 1);
    const blockTables = new Int32Array(chunks.length * stride).fill(-1);
    const rows: number[] = [];
    const rowCounts: number[] = [];
    let t = 0;
    chunks.forEach((c, s) => {
      qStart[s] = t;
      const need = Math.ceil((c.startPos + c.tokens.length) / bs);
      if (c.blockTable.length < need) {
        throw new RangeError(`sequence ${s} needs ${need} KV blocks for ${c.startPos + c.tokens.length} positions, has ${c.blockTable.length}`);
      }
      for (let i = 0; i < need; i++) blockTables[s * stride + i] = c.blockTable[i];
      for (let i = 0; i < c.tokens.length; i++, t++) {
        ids[t] = c.tokens[i];
        positions[t] = c.startPos + i;
      }
      if (c.logits === 'all') for (let i = qStart[s]; i < t; i++) rows.push(i);
      else if (c.logits === 'last') rows.push(t - 1);
      rowCounts.push(c.logits === 'all' ? c.tokens.length : c.logits === 'last' ? 1 : 0);
    });
    qStart[chunks.length] = T;
    const logits = new Float32Array(rows.length * this.vocabSize);
    // The native progress calls and the promise travel on separate queues: deliver each layer
    // exactly once, in order, and catch up on any not yet delivered when the step is done.
    let nextLayer = 0;
    const deliverThrough = (layer: number): void => {
      while (nextLayer <= layer) onLayer!(nextLayer++);
    };
    const batch: NativeVlBatch = { ids, positions, qStart, blockTables, btStride: stride, logitRows: Int32Array.from(rows) };
    if (this.vl) Object.assign(batch, vlBatchExtras(chunks, positions, T, this.weights.config.hiddenSize));
    await this.model.forward(
      batch,
      this.kv.buffer,
      this.kv.layout,
      logits,
      onLayer ? deliverThrough : undefined,
    );
    if (onLayer) deliverThrough(this.kv.layout.layers - 1);
    const out: Float32Array[] = [];
    let r = 0;
    for (const n of rowCounts) {
      out.push(logits.subarray(r * this.vocabSize, (r + n) * this.vocabSize));
      r += n;
    }
    return out;
  }
}

/** Concatenates the chunks' VL inputs into batch order (text-only chunks: modality 0, t = h = w). */
function vlBatchExtras(chunks: SequenceChunk[], positions: Int32Array, T: number, hidden: number): Required<Pick<NativeVlBatch, 'modality' | 'ropePositions' | 'embedRows' | 'embeds'>> {
  const modality = new Int32Array(T);
  const ropePositions = new Int32Array(T * 3);
  const embedRows: number[] = [];
  const embeds: Float32Array[] = [];
  let t = 0;
  for (const c of chunks) {
    const n = c.tokens.length;
    if (c.vl) {
      modality.set(c.vl.modality, t);
      ropePositions.set(c.vl.rope, t * 3);
      for (const r of c.vl.embedRows) embedRows.push(t + r);
      if (c.vl.embeds.length) embeds.push(c.vl.embeds);
    } else {
      for (let i = 0; i < n; i++) ropePositions.fill(positions[t + i]!, (t + i) * 3, (t + i) * 3 + 3);
    }
    t += n;
  }
  const all = new Float32Array(embedRows.length * hidden);
  let o = 0;
  for (const e of embeds) {
    all.set(e, o);
    o += e.length;
  }
  return { modality, ropePositions, embedRows: Int32Array.from(embedRows), embeds: all };
}

const ISA_ORDER = ['scalar', 'avx2', 'avx512'] as const;

/**
 * The instruction set a model built with `isa` runs: an explicit one is clamped to what the CPU
 * has (as the native side does), and AVX-512 is the bf16-dot variant exactly when the process
 * chose it (TANDEM_ISA=avx512bf16: the native model follows the process-wide table).
 */
function modelIsa(isa: KernelImpl | undefined): string {
  const info = native.info();
  if (isa === undefined || isa === 'active') return info.isa;
  const want = isa === 'avx512bf16' ? 'avx512' : isa;
  const level = Math.min(ISA_ORDER.indexOf(want), ISA_ORDER.indexOf(info.bestIsa));
  const chosen = ISA_ORDER[level]!;
  return chosen === 'avx512' && info.isa === 'avx512bf16' ? 'avx512bf16' : chosen;
}
