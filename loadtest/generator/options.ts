/** `tandem bench serve` flags → a validated plan. Usage errors are CliErrors (one line, exit 2). */
import { CliError } from '../../services/cli/cli-error.js';
import { intOption, parseCommandArgs } from '../../services/cli/parse.js';
import { parseLengthSpec, type LengthDist } from './lengths.js';
import { COMPARE_MODES } from './local-cluster.js';
import type { Slo } from './metrics.js';

export const SERVE_HELP = `usage: tandem bench serve (--url URL | --compare unified,disagg) [options]

Open-loop load against the OpenAI chat API with streaming; measures at the client TTFT, TPOT
((e2e - TTFT) / (output tokens - 1)), ITL (every inter-chunk gap) and end-to-end latency
(mean, p50, p90, p99), throughput, and goodput: requests/s meeting both the TTFT and TPOT SLOs.

target (one of):
  --url URL                 an existing gateway, e.g. http://127.0.0.1:8000/v1
  --compare MODES           start a local Tandem per mode, run the same seeded requests against
                            each, print them side by side. Modes: unified (tandem up --mode
                            unified), disagg (tandem up --mode disagg: prefill and decode workers
                            in one process, one shared kernel thread pool), cluster (tandem up
                            --cluster: one prefill and one decode worker process with half the
                            threads each; needs NATS and Redis, see tandem up --help)
  --served-model NAME       model name to request (default: the first of GET /v1/models)
  --api-key KEY

cluster (--compare):
  --model DIR               checkpoint for tandem up (default: the generated tiny one)
  --threads N               kernel threads per mode (TANDEM_THREADS; split in half between the
                            two worker processes of cluster), so every mode gets the same cores
  --max-num-seqs N, --max-batch-tokens N, --num-kv-blocks N, --max-model-len N
                            passed to tandem up (tandem up --cluster forwards only the last two
                            to its workers)

workload:
  --num-requests N          default 100
  --rate R                  mean requests/s of the arrival process (default 1; "inf": all at once)
  --burstiness B            1 = Poisson (default); Gamma-distributed gaps with shape B otherwise
                            (B < 1 burstier, B > 1 more regular)
  --seed N                  arrivals, lengths, prompts and images (default 0)
  --dataset synthetic|FILE  synthetic (default) or a JSONL file: {"prompt": ..., "max_tokens": N}
  --prompt-len SPEC         synthetic prompt tokens (default mixed:0.2*normal:1024,128+0.8*uniform:32-128)
  --output-len SPEC         output tokens (default uniform:32-128); SPEC is fixed:N, uniform:A-B,
                            normal:MEAN,STD[,A-B] or mixed:P*SPEC+Q*SPEC
  --tokenizer DIR           cut synthetic prompts to exact token counts with this tokenizer
                            (default: --model's; else prompts are N words)
  --image-fraction F        share of requests with a small PNG data: URL image (default 0)
  --respect-eos             do not send ignore_eos (outputs may then end before max_tokens)
  --logprobs                send logprobs: true, so each token arrives as a timed chunk even when
                            it decodes to no text (needed for the random-weight 0.3B checkpoint)
  --warmup N                unmeasured requests before the run (default 2)
  --timeout-s S             per request (default 600)

SLOs and output:
  --slo-ttft-ms MS          default 2000
  --slo-tpot-ms MS          default 100
  --json                    one JSON line on stdout (the table goes to stderr)
  --out FILE                the JSON result with every request's timings
  --html FILE               a self-contained HTML report with SVG charts`;

const OPTIONS = {
  url: { type: 'string' },
  compare: { type: 'string' },
  'served-model': { type: 'string' },
  'api-key': { type: 'string' },
  model: { type: 'string' },
  threads: { type: 'string' },
  'max-num-seqs': { type: 'string' },
  'max-batch-tokens': { type: 'string' },
  'num-kv-blocks': { type: 'string' },
  'max-model-len': { type: 'string' },
  'num-requests': { type: 'string' },
  rate: { type: 'string' },
  burstiness: { type: 'string' },
  seed: { type: 'string' },
  dataset: { type: 'string' },
  'prompt-len': { type: 'string' },
  'output-len': { type: 'string' },
  tokenizer: { type: 'string' },
  'image-fraction': { type: 'string' },
  'respect-eos': { type: 'boolean' },
  logprobs: { type: 'boolean' },
  warmup: { type: 'string' },
  'timeout-s': { type: 'string' },
  'slo-ttft-ms': { type: 'string' },
  'slo-tpot-ms': { type: 'string' },
  json: { type: 'boolean' },
  out: { type: 'string' },
  html: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface ServePlan {
  help: boolean;
  url?: string;
  compare?: string[];
  servedModel?: string;
  apiKey?: string;
  model?: string;
  threads?: number;
  upArgs: string[];
  numRequests: number;
  rate: number;
  burstiness: number;
  seed: number;
  dataset: string;
  promptLen: LengthDist;
  outputLen: LengthDist;
  tokenizer?: string;
  imageFraction: number;
  ignoreEos: boolean;
  logprobs: boolean;
  warmup: number;
  timeoutMs: number;
  slo: Slo;
  json: boolean;
  out?: string;
  html?: string;
}

function num(v: string | undefined, name: string, fallback: number, ok: (x: number) => boolean, want: string): number {
  if (v === undefined) return fallback;
  const x = v === 'inf' ? Infinity : Number(v);
  if (Number.isNaN(x) || !ok(x)) throw new CliError(`--${name} must be ${want}, got '${v}'`);
  return x;
}

function lengths(v: string | undefined, name: string, fallback: string): LengthDist {
  try {
    return parseLengthSpec(v ?? fallback);
  } catch (e) {
    throw new CliError(`--${name}: ${(e as Error).message}`);
  }
}

export function parseServeArgs(argv: string[]): ServePlan {
  const { values: v } = parseCommandArgs(argv, OPTIONS);
  const compare = v.compare?.split(',').map((m) => m.trim()).filter(Boolean);
  if (!v.help && !v.url === !compare) throw new CliError('give exactly one of --url URL or --compare unified,disagg');
  for (const m of compare ?? []) if (!(COMPARE_MODES as readonly string[]).includes(m)) throw new CliError(`--compare modes are ${COMPARE_MODES.join(', ')}, got '${m}'`);
  const upArgs: string[] = [];
  for (const flag of ['max-num-seqs', 'max-batch-tokens', 'num-kv-blocks', 'max-model-len'] as const) {
    if (v[flag] !== undefined) upArgs.push(`--${flag}`, String(intOption(v[flag], flag, 0, 1)));
  }
  return {
    help: v.help === true,
    url: v.url?.replace(/\/+$/, ''),
    compare,
    servedModel: v['served-model'],
    apiKey: v['api-key'],
    model: v.model,
    threads: v.threads === undefined ? undefined : intOption(v.threads, 'threads', 0, 1),
    upArgs,
    numRequests: intOption(v['num-requests'], 'num-requests', 100, 1),
    rate: num(v.rate, 'rate', 1, (x) => x > 0, 'a number > 0 or inf'),
    burstiness: num(v.burstiness, 'burstiness', 1, (x) => x > 0 && Number.isFinite(x), 'a number > 0'),
    seed: intOption(v.seed, 'seed', 0, 0),
    dataset: v.dataset ?? 'synthetic',
    promptLen: lengths(v['prompt-len'], 'prompt-len', 'mixed:0.2*normal:1024,128+0.8*uniform:32-128'),
    outputLen: lengths(v['output-len'], 'output-len', 'uniform:32-128'),
    tokenizer: v.tokenizer ?? v.model,
    imageFraction: num(v['image-fraction'], 'image-fraction', 0, (x) => x >= 0 && x <= 1, 'between 0 and 1'),
    ignoreEos: v['respect-eos'] !== true,
    logprobs: v.logprobs === true,
    warmup: intOption(v.warmup, 'warmup', 2, 0),
    timeoutMs: num(v['timeout-s'], 'timeout-s', 600, (x) => x > 0 && Number.isFinite(x), 'a number > 0') * 1000,
    slo: {
      ttftMs: num(v['slo-ttft-ms'], 'slo-ttft-ms', 2000, (x) => x > 0, 'a number > 0'),
      tpotMs: num(v['slo-tpot-ms'], 'slo-tpot-ms', 100, (x) => x > 0, 'a number > 0'),
    },
    json: v.json === true,
    out: v.out,
    html: v.html,
  };
}
