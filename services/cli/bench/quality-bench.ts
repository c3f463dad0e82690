/**
 * `tandem bench quality`: what quantization costs in accuracy, against bf16 on the same
 * checkpoint and prompts. Per scheme: mean KL(bf16 || quantized) of the next-token
 * distributions and top-1 agreement over every position of teacher-forced prompts, and the
 * common prefix of greedy continuations generated independently by both.
 */
import { native, type KernelImpl } from '../../../kernels/ts/index.js';
import type { TextModelWeights } from '../../engine/model-types.js';
import { ModelRunner } from '../../engine/runner/model-runner.js';
import type { Quantization } from '../../protocol/quantization.js';

export interface QualityBenchOptions {
  weights: TextModelWeights;
  model: string;
  schemes: Quantization[];
  prompts?: number;
  promptTokens?: number;
  greedyTokens?: number;
  log?: (msg: string) => void;
}

export interface QualityScheme {
  quantization: Quantization;
  mean_kl: number;
  top1_agreement: number;
  greedy_common_prefix_mean: number;
  greedy_tokens: number;
}

export interface QualityBenchResult {
  bench: 'quality';
  model: string;
  isa: string;
  quant_kernels: string;
  positions: number;
  /** Mean entropy (nats) of the bf16 next-token distributions: near 0 = degenerate checkpoint. */
  bf16_entropy_mean: number;
  /** Median gap between the two highest bf16 logits, in standard deviations of the row. */
  bf16_top2_gap_median_sd: number;
  /**
   * The noise floor: bf16 computed by another ISA's kernels (only the summation order differs).
   * A checkpoint whose top-1 flips under that has margins too thin for top-1 agreement to mean much.
   */
  floor: { isa: string; mean_kl: number; top1_agreement: number };
  schemes: QualityScheme[];
  targets: { wint8_top1: number; wint4_top1: number };
}

function logSoftmax(row: Float32Array): Float64Array {
  let max = -Infinity;
  for (const v of row) max = Math.max(max, v);
  let sum = 0;
  for (const v of row) sum += Math.exp(v - max);
  const lse = max + Math.log(sum);
  const out = new Float64Array(row.length);
  for (let i = 0; i < row.length; i++) out[i] = row[i]! - lse;
  return out;
}

function top2GapSd(row: Float32Array): number {
  let a = -Infinity;
  let b = -Infinity;
  let sum = 0;
  let sq = 0;
  for (const v of row) {
    if (v > a) {
      b = a;
      a = v;
    } else if (v > b) b = v;
    sum += v;
    sq += v * v;
  }
  const mean = sum / row.length;
  return (a - b) / Math.sqrt(Math.max(sq / row.length - mean * mean, 1e-30));
}

function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

function promptTokens(i: number, n: number, vocab: number): number[] {
  // A fixed pseudo-random walk over the vocabulary: the same prompts on every run and machine.
  return Array.from({ length: n }, (_, j) => ((i + 1) * 2654435761 + j * 40503) % Math.min(vocab, 50_000));
}

async function teacherForced(r: ModelRunner, tokens: number[]): Promise<Float32Array> {
  const [logits] = await r.forward([{ tokens, startPos: 0, blockTable: blockTable(tokens.length, r.blockSize), logits: 'all' }]);
  return logits!;
}

function blockTable(len: number, bs: number): number[] {
  return Array.from({ length: Math.ceil(len / bs) }, (_, i) => i);
}

async function greedy(r: ModelRunner, prompt: number[], n: number): Promise<number[]> {
  const bt = blockTable(prompt.length + n, r.blockSize);
  let [logits] = await r.forward([{ tokens: prompt, startPos: 0, blockTable: bt, logits: 'last' }]);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = argmax(logits!);
    out.push(t);
    [logits] = await r.forward([{ tokens: [t], startPos: prompt.length + i, blockTable: bt, logits: 'last' }]);
  }
  return out;
}

export async function runQualityBench(o: QualityBenchOptions): Promise<QualityBenchResult> {
  const log = o.log ?? (() => {});
  const P = o.prompts ?? 4;
  const T = o.promptTokens ?? 128;
  const G = o.greedyTokens ?? 64;
  const V = o.weights.config.vocabSize;
  const runner = (quantization: Quantization, isa?: KernelImpl) =>
    new ModelRunner(o.weights, { numBlocks: Math.ceil((T + G) / 16) + 1, blockSize: 16, maxBatchTokens: T, maxModelLen: T + G + 16, quantization, isa });
  const prompts = Array.from({ length: P }, (_, i) => promptTokens(i, T, V));
  log(`[bench] bf16 reference: ${P} prompts x ${T} tokens, ${G} greedy tokens each`);
  const ref = runner('none');
  const refLogits: Float32Array[] = [];
  const refGreedy: number[][] = [];
  for (const p of prompts) {
    refLogits.push(await teacherForced(ref, p));
    refGreedy.push(await greedy(ref, p, G));
  }
  let entropy = 0;
  const gaps: number[] = [];
  for (const l of refLogits)
    for (let t = 0; t < T; t++) {
      const row = l.subarray(t * V, (t + 1) * V);
      const lp = logSoftmax(row);
      for (const v of lp) entropy -= Math.exp(v) * v;
      gaps.push(top2GapSd(row));
    }
  gaps.sort((a, b) => a - b);
  const compare = async (r: ModelRunner) => {
    let kl = 0;
    let agree = 0;
    for (let i = 0; i < P; i++) {
      const l = await teacherForced(r, prompts[i]!);
      for (let t = 0; t < T; t++) {
        const a = refLogits[i]!.subarray(t * V, (t + 1) * V);
        const b = l.subarray(t * V, (t + 1) * V);
        const la = logSoftmax(a);
        const lb = logSoftmax(b);
        for (let k = 0; k < V; k++) kl += Math.exp(la[k]!) * (la[k]! - lb[k]!);
        if (argmax(a) === argmax(b)) agree++;
      }
    }
    return { mean_kl: kl / (P * T), top1_agreement: agree / (P * T) };
  };
  const active = native.info().isa;
  const floorIsa: KernelImpl = active === 'avx512' ? 'avx2' : active === 'avx2' ? 'avx512' : 'scalar';
  log(`[bench] noise floor: bf16 with the ${floorIsa} kernels`);
  const floor = { isa: floorIsa, ...(await compare(runner('none', floorIsa))) };
  const schemes: QualityScheme[] = [];
  for (const q of o.schemes) {
    log(`[bench] ${q}`);
    const r = runner(q);
    const m = await compare(r);
    let prefix = 0;
    for (let i = 0; i < P; i++) {
      const g = await greedy(r, prompts[i]!, G);
      let n = 0;
      while (n < G && g[n] === refGreedy[i]![n]) n++;
      prefix += n;
    }
    schemes.push({ quantization: q, ...m, greedy_common_prefix_mean: prefix / P, greedy_tokens: G });
  }
  return {
    bench: 'quality',
    model: o.model,
    isa: native.info().isa,
    quant_kernels: native.quantKernels(),
    positions: P * T,
    bf16_entropy_mean: entropy / (P * T),
    bf16_top2_gap_median_sd: gaps[gaps.length >> 1]!,
    floor,
    schemes,
    targets: { wint8_top1: 0.99, wint4_top1: 0.95 },
  };
}
