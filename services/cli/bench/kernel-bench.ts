/**
 * `tandem bench kernels`: the native forward pass against this machine's own bounds, measured in
 * one run with the same thread pool: streaming-read bandwidth (decode is bound by reading every
 * weight once per step) and FMA peak (prefill is bound by compute).
 */
import { readFileSync } from 'node:fs';
import { native } from '../../../kernels/ts/index.js';
import { BlockAllocator } from '../../../tools/bench/block-allocator.js';
import { SequenceBlocks } from '../../../tools/bench/sequence-blocks.js';
import { isQuantized, type LinearWeight, type TextModelWeights } from '../../engine/model-types.js';
import { ModelRunner } from '../../engine/runner/model-runner.js';
import { quantizedShape } from '../../engine/weights/layout.js';
import { quantGroup, quantHeadBits, quantizationBits, quantZeroPoints, type Quantization } from '../../protocol/quantization.js';

export interface KernelBenchOptions {
  weights: TextModelWeights;
  model: string;
  decodeBatches?: number[];
  prefillTokens?: number;
  /** Context each decoding sequence starts from. */
  decodeContext?: number;
  /** Weight-only quantization of the runner (default none = bf16). */
  quantization?: Quantization;
  /** Seconds to spend per measurement (at least 2 steps are always run). */
  seconds?: number;
  log?: (msg: string) => void;
}

export interface KernelBenchResult {
  bench: 'kernels';
  model: string;
  isa: string;
  threads: number;
  quantization: Quantization;
  /** The kernel table of the quantized matmuls ('avx512vnni', 'avx2', 'scalar'); null for bf16. */
  quant_kernels: string | null;
  /** Seconds to build the native model (including quantization at load). */
  model_build_s: number;
  /** Resident memory of this process and memory still available to the system, after the run. */
  rss_gb: number;
  mem_available_gb: number | null;
  memory_bandwidth_gbs: number;
  peak_gflops: number;
  /** Integer multiply-accumulate peak of the instruction the quantized kernels use (GMAC/s). */
  int8_peak_gmacs: number | null;
  weight_bytes_per_step: number;
  decode: Array<{ batch: number; tokens_per_s: number; step_ms: number }>;
  decode_b1_weight_gbs: number;
  roofline_ratio: number;
  decode_batch32_speedup: number | null;
  /**
   * The highest batch-32 / batch-1 ratio this machine allows with the batch-1 speed measured:
   * batch 32 cannot beat peak FLOP/s / FLOPs per token.
   */
  decode_batch32_speedup_ceiling: number | null;
  prefill_tokens: number;
  prefill_tokens_per_s: number;
  prefill_gflops: number;
  /** Prefill against the peak of the instruction used: FMA for bf16, the int8 MAC loop when quantized. */
  prefill_peak_ratio: number;
  targets: { roofline_ratio: number; decode_batch32_speedup: number; prefill_peak_ratio: number };
}

/** Bytes a matrix [rows, cols] occupies under a scheme: bf16, or codes plus one fp32 scale per group. */
export function matrixBytes(m: LinearWeight, q: Quantization = 'none', head = false): number {
  if (isQuantized(m)) return m.data.byteLength + m.scales.byteLength + (m.zeros?.byteLength ?? 0);
  const bits = quantizationBits(q);
  if (!bits) return m.rows * m.cols * 2;
  const headBits = quantHeadBits(q)!;
  const own = head && headBits !== bits;
  const { rowBytes, groups } = quantizedShape(m.rows, m.cols, own ? { bits: headBits, group: 0 } : { bits, group: quantGroup(q) });
  return m.rows * (rowBytes + groups * (4 + (!own && quantZeroPoints(q) ? 1 : 0)));
}

/** Bytes of weights a decode step reads: every matrix once (the LM head included), plus norms. */
export function decodeWeightBytes(w: TextModelWeights, q: Quantization = 'none'): number {
  const mb = (m: LinearWeight) => matrixBytes(m, q);
  let bytes = matrixBytes(w.lmHead, q, true) + w.norm.byteLength;
  for (const l of w.layers) {
    bytes += l.inputLayernorm.byteLength + l.postAttentionLayernorm.byteLength;
    bytes += mb(l.qProj) + mb(l.kProj) + mb(l.vProj) + mb(l.oProj);
    if (l.mlp.kind === 'dense') bytes += mb(l.mlp.gateProj) + mb(l.mlp.upProj) + mb(l.mlp.downProj);
    else {
      // A single token reads only its top-k experts (+ shared + router).
      const e = l.mlp.experts[0]!;
      const per = mb(e.gateProj) + mb(e.upProj) + mb(e.downProj);
      bytes += per * w.config.moe!.topK + l.mlp.gate.byteLength;
      if (l.mlp.shared) bytes += mb(l.mlp.shared.gateProj) + mb(l.mlp.shared.upProj) + mb(l.mlp.shared.downProj);
    }
  }
  return bytes;
}

/** FLOPs of one decode token (short context): 2 per weight it multiplies, LM head included. */
export function decodeFlopsPerToken(w: TextModelWeights): number {
  return prefillFlops(w, 1);
}

/** FLOPs of a prefill of n tokens: 2 per weight per token, attention's QK and PV, and one LM-head row. */
export function prefillFlops(w: TextModelWeights, n: number): number {
  const c = w.config;
  const n2 = (m: LinearWeight) => m.rows * m.cols;
  let perToken = 0;
  for (const l of w.layers) {
    perToken += n2(l.qProj) + n2(l.kProj) + n2(l.vProj) + n2(l.oProj);
    if (l.mlp.kind === 'dense') perToken += n2(l.mlp.gateProj) + n2(l.mlp.upProj) + n2(l.mlp.downProj);
    else {
      const e = l.mlp.experts[0]!;
      perToken += n2(e.gateProj) * 3 * c.moe!.topK + l.mlp.gate.length;
      if (l.mlp.shared) perToken += n2(l.mlp.shared.gateProj) * 3;
    }
  }
  const attention = c.numLayers * c.numHeads * c.headDim * 4 * ((n * (n + 1)) / 2);
  return 2 * perToken * n + attention + 2 * c.hiddenSize * c.vocabSize;
}

function memAvailableGb(): number | null {
  try {
    const m = /MemAvailable:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'));
    return m ? (Number(m[1]) * 1024) / 1e9 : null;
  } catch {
    return null;
  }
}

function nowS(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}

export async function runKernelBench(o: KernelBenchOptions): Promise<KernelBenchResult> {
  const log = o.log ?? (() => {});
  const w = o.weights;
  const batches = o.decodeBatches ?? [1, 8, 32];
  const prefillN = o.prefillTokens ?? 512;
  const ctx = o.decodeContext ?? 64;
  const seconds = o.seconds ?? 3;
  const info = native.info();
  const quantization = o.quantization ?? 'none';
  const quantized = quantization !== 'none' || w.config.quantization !== undefined;

  log(`[bench] ${info.threads} threads, ${info.isa}: measuring memory bandwidth and FMA peak${quantized ? ' and the int8 MAC peak' : ''}`);
  const bandwidth = native.probeBandwidth(512 * 1024 * 1024, 6);
  const peak = native.probeFlops(3e7, 3);
  const int8Peak = quantized ? native.probeInt8Macs(3e7, 3) : null;

  const bs = 16;
  const maxBatch = Math.max(...batches);
  const blocksPerSeq = Math.ceil((ctx + 256) / bs);
  const numBlocks = Math.max(maxBatch * blocksPerSeq, Math.ceil(prefillN / bs) + 1);
  const tBuild = nowS();
  const runner = new ModelRunner(w, { numBlocks, blockSize: bs, maxBatchTokens: Math.max(prefillN, maxBatch), maxModelLen: ctx + 512 + prefillN, quantization });
  const buildSeconds = nowS() - tBuild;
  const alloc = new BlockAllocator(numBlocks);
  const vocab = w.config.vocabSize;
  const tok = (i: number) => (i * 7919 + 13) % Math.min(vocab, 1000);

  const decode: KernelBenchResult['decode'] = [];
  for (const B of batches) {
    log(`[bench] decode at batch ${B}`);
    const seqs = Array.from({ length: B }, () => new SequenceBlocks(alloc, bs));
    // Prefill each sequence's context (not timed), a few at a time within the step budget.
    for (let s = 0; s < B; s++) {
      seqs[s]!.reserve(ctx);
      await runner.forward([{ tokens: Array.from({ length: ctx }, (_, i) => tok(i + s)), startPos: 0, blockTable: seqs[s]!.table, logits: 'none' }]);
    }
    let pos = ctx;
    const step = async () => {
      for (const s of seqs) s.reserve(pos + 1);
      await runner.forward(seqs.map((s, i) => ({ tokens: [tok(pos + i)], startPos: pos, blockTable: s.table, logits: 'last' as const })));
      pos++;
    };
    await step(); // warm-up
    let steps = 0;
    const t0 = nowS();
    while ((steps < 2 || nowS() - t0 < seconds) && pos < ctx + 250) {
      await step();
      steps++;
    }
    const dt = nowS() - t0;
    decode.push({ batch: B, tokens_per_s: (B * steps) / dt, step_ms: (dt / steps) * 1000 });
    for (const s of seqs) s.release();
  }

  log(`[bench] prefill of ${prefillN} tokens`);
  const pseq = new SequenceBlocks(alloc, bs);
  pseq.reserve(prefillN);
  const prompt = Array.from({ length: prefillN }, (_, i) => tok(i));
  await runner.forward([{ tokens: prompt, startPos: 0, blockTable: pseq.table, logits: 'last' }]); // warm-up
  let best = Infinity;
  const tp = nowS();
  for (let r = 0; r < 3 && (r < 1 || nowS() - tp < seconds * 2); r++) {
    const t0 = nowS();
    await runner.forward([{ tokens: prompt, startPos: 0, blockTable: pseq.table, logits: 'last' }]);
    best = Math.min(best, nowS() - t0);
  }
  pseq.release();

  const weightBytes = decodeWeightBytes(w, runner.quantization);
  const b1 = decode.find((d) => d.batch === 1);
  const b32 = decode.find((d) => d.batch === 32);
  const weightGbs = b1 ? weightBytes / (b1.step_ms / 1000) / 1e9 : 0;
  const flops = prefillFlops(w, prefillN);
  return {
    bench: 'kernels',
    model: o.model,
    isa: info.isa,
    threads: info.threads,
    // A pre-quantized checkpoint is served as stored whatever was asked.
    quantization: runner.quantization,
    quant_kernels: runner.quantization !== 'none' ? native.quantKernels() : null,
    model_build_s: buildSeconds,
    rss_gb: process.memoryUsage().rss / 1e9,
    mem_available_gb: memAvailableGb(),
    memory_bandwidth_gbs: bandwidth / 1e9,
    peak_gflops: peak / 1e9,
    int8_peak_gmacs: int8Peak === null ? null : int8Peak / 1e9,
    weight_bytes_per_step: weightBytes,
    decode,
    decode_b1_weight_gbs: weightGbs,
    roofline_ratio: weightGbs / (bandwidth / 1e9),
    decode_batch32_speedup: b1 && b32 ? b32.tokens_per_s / b1.tokens_per_s : null,
    decode_batch32_speedup_ceiling: b1 ? (int8Peak === null ? peak : 2 * int8Peak) / decodeFlopsPerToken(w) / b1.tokens_per_s : null,
    prefill_tokens: prefillN,
    prefill_tokens_per_s: prefillN / best,
    prefill_gflops: flops / best / 1e9,
    // A MAC is 2 FLOPs: the int8 peak in FLOP terms is twice its MAC rate.
    prefill_peak_ratio: flops / best / (int8Peak === null ? peak : 2 * int8Peak),
    targets: { roofline_ratio: 0.8, decode_batch32_speedup: 8, prefill_peak_ratio: 0.6 },
  };
}
