import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { native } from '../../../kernels/ts/index.js';
import { loadTextModelWeights } from '../../engine/weights/load-text-weights.js';
import { runGatewayBench } from '../bench/gateway-bench.js';
import { runKernelBench } from '../bench/kernel-bench.js';
import { modelTextEncoder, readQualityPrompts, runQualityBench } from '../bench/quality-bench.js';
import { runGrammarBench } from '../bench/grammar-bench.js';
import { loadModelVocabulary } from '../model-vocabulary.js';
import { paddedVocabulary } from '../bench/padded-vocabulary.js';
import { readModelCard } from '../../protocol/model-card.js';
import { runServeBench } from '../../../loadtest/generator/serve-command.js';
import { runBurstBench } from '../../../loadtest/generator/burst-command.js';
import { benchTransfer, ucxPerftestPutBandwidth } from '../../transfer/bench.js';
import type { TransferBackend } from '../../transfer/types.js';
import { loadServedModel } from '../../gateway/served-model.js';
import { startUnifiedWorker } from '../../worker/unified-worker.js';
import { benchTtftPush, type TtftBenchResult } from '../../worker/ttft-bench.js';
import { runVisionBench } from '../bench/vision-bench.js';
import { runLlamacppBenchCommand } from '../bench/llamacpp-command.js';
import { CliError } from '../cli-error.js';
import { ensureGeneratedModel } from '../ensure-model.js';
import { intOption, parseCommandArgs, quantizationOption } from '../parse.js';

const HELP = `usage: tandem bench kernels [--json] [--model DIR] [--threads N] [--seconds S] [--prefill N]
                            [--quantization none|wint8|wint4]
       tandem bench quality [--json] [--model DIR] [--schemes wint8,wint4] [--prompts 4] [--tokens 128]
                            [--prompts-file FILE]
       tandem bench gateway [--json] [--model DIR] [--samples N]
       tandem bench transfer [--json] [--backends ucx,ucx-checked,tcp,tcp-tls,local] [--sizes 65536,1048576,16777216,67108864]
                             [--model DIR] [--ttft-prompt 512] [--ttft-repeats 5] [--skip-ttft]
       tandem bench vision [--json] [--model DIR] [--sizes 224x224,448x448,896x672] [--repeats 3] [--backend ucx|tcp]
       tandem bench serve (--url URL | --compare unified,disagg) [--rate R] [--num-requests N] [--json] [...]
       tandem bench burst [--url URL] [--requests 200] [--max-num-seqs 8] [--max-waiting 8] [--json]
       tandem bench llamacpp [--json] [--model DIR] [--threads 2] [--prompt 512] [--gen 64] [--repeats 3]
       tandem bench grammar [--json] [--model DIR] [--batches 1,32] [--tokens 64] [--repeats 3] [--vocab full|tokenizer]

grammar: what structured output costs a decode step, on the ERNIE-4.5-0.3B shapes (103k-token
vocabulary) unless --model: end to end, batches of B requests decoding with a grammar whose masks
allow nearly every token against the same batch without one (A/B alternated, overhead = ratio
of step times − 1); per JSON schema, the warm mask cost (apply + advance, B rows) as a fraction
of the unconstrained step; and the cold cost (compile + the first request's masks) per schema.
--vocab full (default) pads a generated checkpoint's small tokenizer with made-up pieces up to the
model's vocab_size, so masks are built over as many tokens as a real ERNIE vocabulary has;
--vocab tokenizer uses the tokenizer's pieces only.

llamacpp: Tandem against llama.cpp (node-llama-cpp, installed into the Tandem cache on first use) on the same checkpoint,
converted once to GGUF bf16 / Q8_0 / Q4_0 by tools/gguf (cached in DIR-gguf/): per pair (bf16 vs
bf16, wint8 vs Q8_0, wint4 vs Q4_0) both engines run alternately with the same threads and prompt
ids; prefill and greedy decode tokens/s (medians of the repeats), ratios tandem / llama.cpp, and
whether the greedy ids agree (bf16: identical = the conversion is right). ERNIE-4.5-0.3B shapes
with weight scale 1.5 unless --model.

vision: vision-encode time per image by resolution, embedding transfer bytes and time to another
process, and TTFT of an image request with the encoder cache cold vs warm, on the generated
ERNIE-4.5-VL 'small' checkpoint unless --model is given.

quality: what quantization costs against bf16 on the same checkpoint: mean KL of the next-token
distributions, top-1 agreement over teacher-forced prompts, and the common prefix of greedy
continuations, beside the noise floor (bf16 under another ISA's kernels); on the ERNIE-4.5-0.3B
shapes generated with weight scale 1.5 (a scale-1 random model repeats one token, which would
make every comparison trivially perfect) unless --model. Prompts are a fixed pseudo-random walk
over the vocabulary unless --prompts-file: JSON Lines, each line a JSON string of text (encoded
with the model's tokenizer) or a JSON array of token ids, each at least --tokens long (cut to
it); --prompts then defaults to every prompt in the file. Real text is what a trained
checkpoint's accuracy must be measured on (loadtest/quality/README.md).

serve: open-loop streaming chat load; TTFT, TPOT, ITL, goodput (see 'tandem bench serve --help').
burst: N requests at once into a small queue: admitted, refused with 429 + Retry-After, the peak
in flight against the bound, refusal latency beside /health's under the same load.

transfer: put bandwidth between two processes per backend (receiver in a child process, bytes
verified), side by side with ucx_perftest put bandwidth measured in the same run; ucx-checked is
ucx into a guarded region, as workers' KV pools are (checked puts: the receiver admits each put
before it lands; ucx_checked_ratio_to_ucx); tcp-tls is the
tcp backend with a cluster key (TLS 1.3 PSK, encrypted: tcp_tls_ratio_to_tcp); then TTFT of
a prefill (0.3B shapes unless --model) alone, with the KV pushed after it, and with the KV pushed
layer by layer during it, per cross-process backend.

gateway: latency the HTTP + SSE path adds over submitting to the engine directly (paired
samples, 1- and 64-token requests, p50/p99) and requests/s at concurrency 1, 16 and 64, on the
tiny generated checkpoint unless --model is given.

Measures, in one run and with the same threads: memory bandwidth (streaming read), peak FLOP/s
(FMA loop, and the int8 multiply-accumulate loop with --quantization), decode tokens/s at batch
1, 8 and 32, and prefill tokens/s, with bf16 or quantized weights, on the generated
ERNIE-4.5-0.3B-shape checkpoint (generated on first use) unless --model is given.
--json prints one machine-readable JSON line on stdout (progress goes to stderr).`;

export async function runBench(argv: string[]): Promise<number> {
  const [which, ...rest] = argv;
  if (!which || which === '--help' || which === '-h') {
    console.log(HELP);
    return which ? 0 : 1;
  }
  if (which === 'gateway') return runGatewayBenchCommand(rest);
  if (which === 'transfer') return runTransferBenchCommand(rest);
  if (which === 'serve') return runServeBench(rest);
  if (which === 'burst') return runBurstBench(rest);
  if (which === 'vision') return runVisionBenchCommand(rest);
  if (which === 'quality') return runQualityBenchCommand(rest);
  if (which === 'llamacpp') return runLlamacppBenchCommand(rest, HELP);
  if (which === 'grammar') return runGrammarBenchCommand(rest);
  if (which !== 'kernels') throw new CliError(`unknown benchmark '${which}' (available: kernels, quality, llamacpp, grammar, gateway, transfer, serve, burst, vision)`);
  const { values } = parseCommandArgs(rest, {
    json: { type: 'boolean' },
    model: { type: 'string' },
    threads: { type: 'string' },
    seconds: { type: 'string' },
    prefill: { type: 'string' },
    quantization: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const quantization = quantizationOption(values.quantization);
  if (values.threads) native.setThreads(intOption(values.threads, 'threads', 1, 1));
  const log = (m: string) => process.stderr.write(m + '\n');
  const dir = values.model ? resolve(values.model) : await ensureGeneratedModel('ernie4_5', '0.3b', 0, log);
  log(`[bench] loading ${dir}`);
  const weights = await loadTextModelWeights(dir);
  const result = await runKernelBench({
    weights,
    model: dir,
    seconds: intOption(values.seconds, 'seconds', 3, 1),
    prefillTokens: intOption(values.prefill, 'prefill', 512, 1),
    quantization,
    log,
  });
  if (values.json) console.log(JSON.stringify(result));
  else console.log(JSON.stringify(result, null, 2));
  return 0;
}

async function runQualityBenchCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    json: { type: 'boolean' },
    model: { type: 'string' },
    schemes: { type: 'string' },
    prompts: { type: 'string' },
    tokens: { type: 'string' },
    'prompts-file': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const schemes = (values.schemes ?? 'wint8,wint4').split(',').map((s) => quantizationOption(s.trim()));
  const promptTokens = intOption(values.tokens, 'tokens', 128, 2);
  const log = (m: string) => process.stderr.write(m + '\n');
  const dir = values.model ? resolve(values.model) : await ensureGeneratedModel('ernie4_5', '0.3b', 0, log, 1.5);
  const weights = await loadTextModelWeights(dir);
  const file = values['prompts-file'] === undefined ? undefined : resolve(values['prompts-file']);
  const promptIds = file === undefined ? undefined : await readQualityPrompts(file, { vocabSize: weights.config.vocabSize, minTokens: promptTokens, encoder: modelTextEncoder(dir) });
  const prompts = intOption(values.prompts, 'prompts', promptIds?.length ?? 4, 1);
  if (promptIds && prompts > promptIds.length) throw new CliError(`--prompts ${prompts}: ${file} has only ${promptIds.length} prompt(s)`);
  const result = await runQualityBench({
    weights,
    model: dir,
    schemes,
    prompts,
    promptTokens,
    promptIds,
    promptSource: file,
    log,
  });
  console.log(values.json ? JSON.stringify(result) : JSON.stringify(result, null, 2));
  return 0;
}

async function runGrammarBenchCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    json: { type: 'boolean' },
    model: { type: 'string' },
    batches: { type: 'string' },
    tokens: { type: 'string' },
    repeats: { type: 'string' },
    vocab: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const vocabMode = values.vocab ?? 'full';
  if (vocabMode !== 'full' && vocabMode !== 'tokenizer') throw new CliError('--vocab must be full or tokenizer');
  const log = (m: string) => process.stderr.write(m + '\n');
  const dir = values.model ? resolve(values.model) : await ensureGeneratedModel('ernie4_5', '0.3b', 0, log);
  const tokenizerVocabulary = await loadModelVocabulary(dir, log);
  if (!tokenizerVocabulary) throw new CliError(`${dir} has no tokenizer: structured output needs one`);
  const { vocabSize } = await readModelCard(dir);
  const vocabulary = vocabMode === 'full' ? paddedVocabulary(tokenizerVocabulary, vocabSize) : tokenizerVocabulary;
  const batches = (values.batches ?? '1,32').split(',').map((b) => intOption(b.trim(), 'batches', 1, 1));
  const worker = await startUnifiedWorker({ modelDir: dir, numKvBlocks: 4096, maxNumSeqs: Math.max(64, ...batches), vocabulary });
  try {
    const result = await runGrammarBench({
      engine: worker.engine,
      vocabulary,
      model: dir,
      eosTokenIds: worker.card.eosTokenIds,
      batches,
      tokens: intOption(values.tokens, 'tokens', 64, 2),
      repeats: intOption(values.repeats, 'repeats', 3, 1),
      log,
    });
    console.log(values.json ? JSON.stringify(result) : JSON.stringify(result, null, 2));
  } finally {
    await worker.engine.shutdown();
  }
  return 0;
}

async function runGatewayBenchCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    json: { type: 'boolean' },
    model: { type: 'string' },
    samples: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const log = (m: string) => process.stderr.write(m + '\n');
  const dir = values.model ? resolve(values.model) : await ensureGeneratedModel('ernie4_5', 'tiny', 0, log);
  const worker = await startUnifiedWorker({ modelDir: dir, numKvBlocks: 4096, maxNumSeqs: 128 });
  const result = await runGatewayBench({ engine: worker.engine, served: await loadServedModel(dir), samples: intOption(values.samples, 'samples', 200, 10), log });
  await worker.engine.shutdown();
  console.log(values.json ? JSON.stringify(result) : JSON.stringify(result, null, 2));
  return 0;
}

async function runTransferBenchCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    json: { type: 'boolean' },
    backends: { type: 'string' },
    sizes: { type: 'string' },
    model: { type: 'string' },
    'ttft-prompt': { type: 'string' },
    'ttft-repeats': { type: 'string' },
    'skip-ttft': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const log = (m: string) => process.stderr.write(m + '\n');
  const backends = (values.backends ?? 'ucx,ucx-checked,tcp,tcp-tls,local').split(',') as Array<TransferBackend | 'tcp-tls' | 'ucx-checked'>;
  for (const b of backends) if (!['ucx', 'ucx-checked', 'tcp', 'tcp-tls', 'local'].includes(b)) throw new CliError(`unknown transfer backend '${b}'`);
  // tcp-tls: the tcp backend as a cluster runs it (a throw-away transfer key: TLS-PSK, encrypted).
  const tlsKey = randomBytes(32);
  const sizes = (values.sizes ?? '65536,1048576,16777216,67108864').split(',').map((x) => intOption(x, 'sizes', 0, 1));
  const rows: Array<Record<string, unknown>> = [];
  for (const bytes of sizes) {
    log(`[bench] ${bytes} bytes: ucx_perftest`);
    const perftest = await ucxPerftestPutBandwidth(bytes).catch(() => undefined);
    const row: Record<string, unknown> = { bytes, ucx_perftest_gbs: perftest === undefined ? null : perftest / 1e9 };
    for (const backend of backends) {
      log(`[bench] ${bytes} bytes: ${backend}`);
      try {
        const col = backend.replace('-', '_');
        const r = await benchTransfer(
          backend === 'tcp-tls' ? { backend: 'tcp', bytes, authKey: tlsKey } : backend === 'ucx-checked' ? { backend: 'ucx', bytes, guarded: true } : { backend, bytes },
        );
        row[`${col}_gbs`] = r.bandwidth.median / 1e9;
        row[`${col}_verified`] = r.verified;
        if (backend === 'ucx' && perftest) row.ucx_ratio_to_perftest = r.bandwidth.median / perftest;
        if (backend === 'tcp-tls' && typeof row.tcp_gbs === 'number') row.tcp_tls_ratio_to_tcp = r.bandwidth.median / 1e9 / row.tcp_gbs;
        if (backend === 'ucx-checked' && typeof row.ucx_gbs === 'number') row.ucx_checked_ratio_to_ucx = r.bandwidth.median / 1e9 / row.ucx_gbs;
      } catch (e) {
        row[`${backend}_error`] = (e as Error).message;
      }
    }
    rows.push(row);
  }
  const ttft: TtftBenchResult[] = [];
  if (!values['skip-ttft']) {
    const dir = values.model ? resolve(values.model) : await ensureGeneratedModel('ernie4_5', '0.3b', 0, log);
    log(`[bench] ttft: loading ${dir}`);
    const weights = await loadTextModelWeights(dir);
    for (const backend of backends) {
      // The TTFT bench pushes into a guarded pool, as workers do (ucx: checked puts).
      if (backend === 'local' || backend === 'tcp-tls' || backend === 'ucx-checked') continue;
      ttft.push(await benchTtftPush({
        weights, backend, log,
        promptTokens: intOption(values['ttft-prompt'], 'ttft-prompt', 512, 16),
        repeats: intOption(values['ttft-repeats'], 'ttft-repeats', 5, 1),
      }));
    }
  }
  const result = { bench: 'transfer', rows, ttft, target: { ucx_ratio_to_perftest: 0.9, layerwise_added_ttft: 0.1 } };
  console.log(values.json ? JSON.stringify(result) : JSON.stringify(result, null, 2));
  return 0;
}

async function runVisionBenchCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    json: { type: 'boolean' },
    model: { type: 'string' },
    sizes: { type: 'string' },
    repeats: { type: 'string' },
    backend: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const log = (m: string) => process.stderr.write(m + '\n');
  const resolutions = (values.sizes ?? '224x224,448x448,896x672').split(',').map((s) => {
    const m = /^(\d+)x(\d+)$/.exec(s);
    if (!m || Number(m[1]) % 28 || Number(m[2]) % 28) throw new CliError(`--sizes entries must be WxH with multiples of 28, got '${s}'`);
    return [Number(m[1]), Number(m[2])] as [number, number];
  });
  const backend = (values.backend ?? 'ucx') as 'ucx' | 'tcp';
  if (backend !== 'ucx' && backend !== 'tcp') throw new CliError('--backend must be ucx or tcp');
  const modelDir = values.model ? resolve(values.model) : await ensureGeneratedModel('ernie4_5_vl_moe', 'small', 0, log);
  const result = await runVisionBench({ modelDir, resolutions, repeats: intOption(values.repeats, 'repeats', 3, 1), backend, log });
  console.log(values.json ? JSON.stringify(result) : JSON.stringify(result, null, 2));
  return 0;
}
