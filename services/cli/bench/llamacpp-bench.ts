/**
 * `tandem bench llamacpp`: Tandem against llama.cpp (node-llama-cpp) on the same checkpoint,
 * converted to GGUF by tools/gguf, at matching widths: Tandem bf16 vs GGUF bf16, wint8 vs Q8_0,
 * wint4 vs Q4_0. Per pair both engines run alternately (A B A B ...) with the same thread count
 * and the same prompt token ids: prefill tokens/s (one prompt of N tokens, until the first
 * token) and decode tokens/s (greedy steps after it), medians of the repeats, ratios
 * tandem / llama.cpp. The greedy ids of each pair are compared too: for bf16 (the same bf16
 * weights in both engines) they check the conversion.
 */
import { loadavg } from 'node:os';
import { native } from '../../../kernels/ts/index.js';
import type { TextModelWeights } from '../../engine/model-types.js';
import { ModelRunner } from '../../engine/runner/model-runner.js';
import type { Quantization } from '../../protocol/quantization.js';
import { ensureGgufs } from '../../../tools/gguf/gguf-cache.js';
import type { GgufFormat } from '../../../tools/gguf/ernie-to-gguf.js';
import { LlamaCppEngine, type LlamaCppInfo, type TimedRun } from './llamacpp-engine.js';

export interface LlamacppBenchOptions {
  weights: TextModelWeights;
  model: string;
  threads: number;
  promptTokens: number;
  genTokens: number;
  repeats: number;
  pairs?: ReadonlyArray<readonly [Quantization, GgufFormat]>;
  log?: (msg: string) => void;
}

export interface EngineFigures {
  prefill_tok_s: number;
  decode_tok_s: number;
  /** Every repeat, in run order. */
  prefill_samples: number[];
  decode_samples: number[];
}

export interface LlamacppPair {
  tandem: Quantization;
  gguf: GgufFormat;
  tandem_figures: EngineFigures;
  llamacpp_figures: EngineFigures;
  /** tandem / llama.cpp, of the medians. */
  prefill_ratio: number;
  decode_ratio: number;
  /** tandem / llama.cpp of each engine's fastest repeat: less swayed by other load on a shared machine. */
  prefill_ratio_best: number;
  decode_ratio_best: number;
  /** Greedy ids of the first repeat: how many of the first `greedy_tokens` agree from the start. */
  greedy_tokens: number;
  greedy_common_prefix: number;
  teacher_forced: TeacherForced;
}

/**
 * Next-token logits of both engines over the same prompt prefix (teacher-forced): how often
 * their top-1 agree, and how far llama.cpp's logit of Tandem's top-1 token is from Tandem's own,
 * beside the spread of Tandem's logits (row standard deviation) for scale.
 */
export interface TeacherForced {
  positions: number;
  top1_agreement: number;
  top_logit_abs_diff_mean: number;
  top_logit_abs_diff_max: number;
  tandem_logit_sd_mean: number;
}

export interface LlamacppBenchResult {
  bench: 'llamacpp';
  model: string;
  threads: number;
  isa: string;
  quant_kernels: string;
  prompt_tokens: number;
  gen_tokens: number;
  repeats: number;
  llamacpp: LlamaCppInfo | null;
  pairs: LlamacppPair[];
  /**
   * bf16 in both engines from the same bf16 weights: teacher-forced top-1 agreement and the
   * greedy common prefix (summation order, activation rounding and the KV cache type differ, so a
   * near-tie can flip one argmax and the greedy paths part from there).
   */
  bf16_top1_agreement: number | null;
  bf16_greedy_common_prefix: number | null;
  /** os.loadavg()[0] before and after: other load on the machine makes every figure noisier. */
  loadavg_1m: [number, number];
  target_ratio: number;
}

export const DEFAULT_PAIRS: ReadonlyArray<readonly [Quantization, GgufFormat]> = [
  ['none', 'bf16'],
  ['wint8', 'q8_0'],
  ['wint4', 'q4_0'],
];

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function argmax(l: Float32Array): number {
  let best = 0;
  for (let i = 1; i < l.length; i++) if (l[i]! > l[best]!) best = i;
  return best;
}

/** A fixed pseudo-random walk over the vocabulary (the prompts of `tandem bench quality`). */
export function benchPrompt(n: number, vocab: number): number[] {
  return Array.from({ length: n }, (_, j) => (2654435761 + j * 40503) % Math.min(vocab, 50_000));
}

async function tandemRun(r: ModelRunner, prompt: number[], gen: number): Promise<TimedRun> {
  const bt = Array.from({ length: Math.ceil((prompt.length + gen + 1) / r.blockSize) }, (_, i) => i);
  const t0 = performance.now();
  let [logits] = await r.forward([{ tokens: prompt, startPos: 0, blockTable: bt, logits: 'last' }]);
  const tokens = [argmax(logits!)];
  const t1 = performance.now();
  for (let i = 0; i < gen; i++) {
    [logits] = await r.forward([{ tokens: [tokens[i]!], startPos: prompt.length + i, blockTable: bt, logits: 'last' }]);
    tokens.push(argmax(logits!));
  }
  const t2 = performance.now();
  return { prefillSeconds: (t1 - t0) / 1000, decodeSeconds: (t2 - t1) / 1000, tokens };
}

function figures(runs: TimedRun[], prompt: number, gen: number): EngineFigures {
  const prefill = runs.map((r) => prompt / r.prefillSeconds);
  const decode = runs.map((r) => gen / r.decodeSeconds);
  return { prefill_tok_s: median(prefill), decode_tok_s: median(decode), prefill_samples: prefill, decode_samples: decode };
}

async function teacherForced(r: ModelRunner, llama: LlamaCppEngine, tokens: number[]): Promise<TeacherForced> {
  const V = r.vocabSize;
  const bt = Array.from({ length: Math.ceil(tokens.length / r.blockSize) }, (_, i) => i);
  const [logits] = await r.forward([{ tokens, startPos: 0, blockTable: bt, logits: 'all' }]);
  const rows = tokens.map((_, i) => logits!.subarray(i * V, (i + 1) * V));
  const tops = rows.map(argmax);
  const theirs = await llama.topLogits(tokens, tops);
  let agree = 0;
  let diffSum = 0;
  let diffMax = 0;
  let sdSum = 0;
  rows.forEach((row, i) => {
    if (theirs[i]!.top === tops[i]) agree++;
    const d = Math.abs(theirs[i]!.probeLogit - row[tops[i]!]!);
    diffSum += d;
    diffMax = Math.max(diffMax, d);
    let s = 0;
    let sq = 0;
    for (const v of row) {
      s += v;
      sq += v * v;
    }
    sdSum += Math.sqrt(Math.max(sq / V - (s / V) ** 2, 0));
  });
  const n = tokens.length;
  return { positions: n, top1_agreement: agree / n, top_logit_abs_diff_mean: diffSum / n, top_logit_abs_diff_max: diffMax, tandem_logit_sd_mean: sdSum / n };
}

function commonPrefix(a: number[], b: number[]): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

export async function runLlamacppBench(o: LlamacppBenchOptions): Promise<LlamacppBenchResult> {
  const log = o.log ?? (() => {});
  const P = o.promptTokens;
  const G = o.genTokens;
  const pairs = o.pairs ?? DEFAULT_PAIRS;
  native.setThreads(o.threads);
  const ggufs = ensureGgufs(o.model, o.weights, pairs.map(([, f]) => f), log);
  const prompt = benchPrompt(P, o.weights.config.vocabSize);
  const warm = prompt.slice(0, Math.min(P, 32));
  const forced = prompt.slice(0, Math.min(P, 128));
  const load0 = loadavg()[0]!;
  const results: LlamacppPair[] = [];
  let info: LlamaCppInfo | null = null;
  for (const [quantization, format] of pairs) {
    log(`[bench] ${quantization} vs ${format}: loading both engines (${o.threads} threads)`);
    const runner = new ModelRunner(o.weights, {
      numBlocks: Math.ceil((P + G + 1) / 16) + 1,
      blockSize: 16,
      maxBatchTokens: P,
      maxModelLen: P + G + 16,
      quantization,
    });
    const llama = await LlamaCppEngine.open(ggufs[format], { threads: o.threads, contextSize: P + G + 16, batchSize: P });
    info ??= llama.info;
    try {
      await tandemRun(runner, warm, 4);
      await llama.run(warm, 4);
      const a: TimedRun[] = [];
      const b: TimedRun[] = [];
      for (let i = 0; i < o.repeats; i++) {
        a.push(await tandemRun(runner, prompt, G));
        b.push(await llama.run(prompt, G));
        const fa = figures(a.slice(-1), P, G);
        const fb = figures(b.slice(-1), P, G);
        log(
          `[bench] ${quantization} vs ${format} ${i + 1}/${o.repeats}: prefill ${fa.prefill_tok_s.toFixed(0)} vs ${fb.prefill_tok_s.toFixed(0)} tok/s, ` +
            `decode ${fa.decode_tok_s.toFixed(1)} vs ${fb.decode_tok_s.toFixed(1)} tok/s`,
        );
      }
      const ta = figures(a, P, G);
      const tb = figures(b, P, G);
      results.push({
        tandem: quantization,
        gguf: format,
        tandem_figures: ta,
        llamacpp_figures: tb,
        prefill_ratio: ta.prefill_tok_s / tb.prefill_tok_s,
        decode_ratio: ta.decode_tok_s / tb.decode_tok_s,
        prefill_ratio_best: Math.max(...ta.prefill_samples) / Math.max(...tb.prefill_samples),
        decode_ratio_best: Math.max(...ta.decode_samples) / Math.max(...tb.decode_samples),
        greedy_tokens: G + 1,
        greedy_common_prefix: commonPrefix(a[0]!.tokens, b[0]!.tokens),
        teacher_forced: await teacherForced(runner, llama, forced),
      });
      const tf = results.at(-1)!.teacher_forced;
      log(`[bench] ${quantization} vs ${format}: teacher-forced top-1 agreement ${(100 * tf.top1_agreement).toFixed(1)}% over ${tf.positions} positions, greedy common prefix ${results.at(-1)!.greedy_common_prefix}/${G + 1}`);
    } finally {
      await llama.close();
    }
  }
  const bf16 = results.find((r) => r.tandem === 'none' && r.gguf === 'bf16');
  const ni = native.info();
  return {
    bench: 'llamacpp',
    model: o.model,
    threads: o.threads,
    isa: ni.isa,
    quant_kernels: native.quantKernels(),
    prompt_tokens: P,
    gen_tokens: G,
    repeats: o.repeats,
    llamacpp: info,
    pairs: results,
    bf16_top1_agreement: bf16 ? bf16.teacher_forced.top1_agreement : null,
    bf16_greedy_common_prefix: bf16 ? bf16.greedy_common_prefix : null,
    loadavg_1m: [load0, loadavg()[0]!],
    target_ratio: 1.3,
  };
}
