/**
 * `tandem bench quality`: what quantization costs in accuracy, against bf16 on the same
 * checkpoint and prompts. Per scheme: mean KL(bf16 || quantized) of the next-token
 * distributions and top-1 agreement over every position of teacher-forced prompts, and the
 * common prefix of greedy continuations generated independently by both.
 *
 * Prompts are a fixed pseudo-random walk over the vocabulary, or real text from a prompts file
 * (`--prompts-file`): on a trained checkpoint, top-1 agreement is only meaningful on the kind
 * of text it was trained on, where its next-token distributions are peaked.
 */
import { readFile } from 'node:fs/promises';
import { native, type KernelImpl } from '../../../kernels/ts/index.js';
import type { TextModelWeights } from '../../engine/model-types.js';
import { ModelRunner } from '../../engine/runner/model-runner.js';
import type { Quantization } from '../../protocol/quantization.js';
import { loadTokenizer } from '../../text/load-tokenizer.js';
import { CliError } from '../cli-error.js';

export interface QualityBenchOptions {
  weights: TextModelWeights;
  model: string;
  schemes: Quantization[];
  prompts?: number;
  promptTokens?: number;
  greedyTokens?: number;
  /**
   * Prompt token ids to use instead of the pseudo-random ones (`readQualityPrompts`): the first
   * `prompts` of them, each cut to `promptTokens` (each must be at least that long).
   */
  promptIds?: number[][];
  /** Where promptIds came from, echoed as the result's `prompts` (default 'given'). */
  promptSource?: string;
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
  /** 'pseudo-random' or the prompts file. */
  prompts: string;
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
  let prompts: number[][];
  if (o.promptIds) {
    if (o.promptIds.length < P) throw new RangeError(`${P} prompts asked for, ${o.promptIds.length} given`);
    prompts = o.promptIds.slice(0, P).map((p, i) => {
      if (p.length < T) throw new RangeError(`prompt ${i + 1} has ${p.length} tokens, fewer than ${T}`);
      const bad = p.find((t) => !Number.isInteger(t) || t < 0 || t >= V);
      if (bad !== undefined) throw new RangeError(`prompt ${i + 1} has token id ${bad}, outside the vocabulary [0, ${V})`);
      return p.slice(0, T);
    });
  } else {
    prompts = Array.from({ length: P }, (_, i) => promptTokens(i, T, V));
  }
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
    prompts: o.promptIds ? (o.promptSource ?? 'given') : 'pseudo-random',
    positions: P * T,
    bf16_entropy_mean: entropy / (P * T),
    bf16_top2_gap_median_sd: gaps[gaps.length >> 1]!,
    floor,
    schemes,
    targets: { wint8_top1: 0.99, wint4_top1: 0.95 },
  };
}

export interface ReadQualityPromptsOptions {
  /** The model's vocabulary size: every id must be below it. */
  vocabSize: number;
  /** Tokens each prompt must have at least (--tokens); longer ones are cut by the bench. */
  minTokens: number;
  /** Encodes a text prompt with the model's tokenizer; loaded only when the file has text lines. */
  encoder: () => Promise<(text: string) => number[]>;
}

/**
 * Reads a prompts file for `--prompts-file`: JSON Lines, each non-blank line either a JSON
 * string (text, encoded with the model's tokenizer, no BOS: the text is continued where it
 * stands) or a JSON array of token ids. A bad line is a CliError naming the file and line.
 */
/** The model directory's tokenizer as a text → ids function for text prompts (no BOS added). */
export function modelTextEncoder(dir: string): () => Promise<(text: string) => number[]> {
  return async () => {
    const tok = await loadTokenizer(dir).catch((e: Error) => {
      throw new CliError(`${dir}: text prompts need the model's tokenizer (${e.message}); give token id arrays instead`);
    });
    return (text) => tok.encode(text, { addSpecialTokens: false });
  };
}

export async function readQualityPrompts(file: string, o: ReadQualityPromptsOptions): Promise<number[][]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new CliError(`--prompts-file ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  return parseQualityPrompts(text, file, o);
}

export async function parseQualityPrompts(text: string, file: string, o: ReadQualityPromptsOptions): Promise<number[][]> {
  let encode: ((s: string) => number[]) | undefined;
  const out: number[][] = [];
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!.trim();
    if (!line) continue;
    const where = `--prompts-file ${file} line ${n + 1}`;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      throw new CliError(`${where}: not JSON (each line is a JSON string of text or a JSON array of token ids)`);
    }
    let ids: unknown[];
    if (typeof v === 'string') {
      encode ??= await o.encoder();
      ids = encode(v);
    } else if (Array.isArray(v)) {
      ids = v;
    } else {
      throw new CliError(`${where}: expected a JSON string of text or a JSON array of token ids`);
    }
    // Text too: a tokenizer may know more ids than the model's embedding table has rows.
    const bad = ids.find((t) => !Number.isInteger(t) || (t as number) < 0 || (t as number) >= o.vocabSize);
    if (bad !== undefined) throw new CliError(`${where}: ${JSON.stringify(bad)} is not a token id of the model ([0, ${o.vocabSize}))`);
    if (ids.length < o.minTokens) throw new CliError(`${where}: ${ids.length} tokens, fewer than --tokens ${o.minTokens}`);
    out.push(ids as number[]);
  }
  if (out.length === 0) throw new CliError(`--prompts-file ${file}: no prompts (one JSON string or id array per line)`);
  return out;
}
