/**
 * `tandem bench serve`: builds the seeded workload once, runs it open-loop against a gateway
 * (--url) or against a fresh `tandem up` per mode (--compare), and reports the figures as a
 * table, JSON and an HTML page.
 */
import { writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { createProgressBar } from '../../services/cli/progress-bar.js';
import { ensureGeneratedModel } from '../../services/cli/ensure-model.js';
import { loadTokenizer } from '../../services/text/load-tokenizer.js';
import { arrivalOffsets } from './arrivals.js';
import { jsonlDataset, syntheticDataset, type DatasetItem } from './dataset.js';
import { renderHtmlReport, type ReportRun } from './html-report.js';
import { startLocalCluster, upCommand } from './local-cluster.js';
import { summarize } from './metrics.js';
import { parseServeArgs, SERVE_HELP, type ServePlan } from './options.js';
import { comparison, requestsJson, summaryJson } from './result-json.js';
import { runOpenLoop } from './runner.js';
import { sendStreaming } from './sse-client.js';
import { figureTable } from './table.js';

const log = (m: string) => process.stderr.write(m + '\n');

async function buildDataset(p: ServePlan, modelDir: string | undefined): Promise<DatasetItem[]> {
  if (p.dataset !== 'synthetic') {
    return jsonlDataset(resolve(p.dataset), { count: p.numRequests, seed: p.seed, outputLen: p.outputLen, imageFraction: p.imageFraction });
  }
  const tokDir = p.tokenizer ?? modelDir;
  const tokenizer = tokDir ? await loadTokenizer(resolve(tokDir)) : undefined;
  return syntheticDataset({ count: p.numRequests, seed: p.seed, promptLen: p.promptLen, outputLen: p.outputLen, imageFraction: p.imageFraction, tokenizer });
}

async function servedModelName(baseURL: string, apiKey?: string): Promise<string> {
  const res = await fetch(`${baseURL}/models`, { headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {} });
  if (!res.ok) throw new Error(`GET ${baseURL}/models answered ${res.status}`);
  const body = (await res.json()) as { data?: Array<{ id: string }> };
  const id = body.data?.[0]?.id;
  if (!id) throw new Error(`GET ${baseURL}/models lists no model`);
  return id;
}

async function runAgainst(label: string, baseURL: string, model: string, p: ServePlan, items: DatasetItem[], offsets: number[]): Promise<ReportRun> {
  const send = { url: `${baseURL}/chat/completions`, model, apiKey: p.apiKey, ignoreEos: p.ignoreEos, logprobs: p.logprobs, timeoutMs: p.timeoutMs };
  for (let i = 0; i < p.warmup; i++) {
    const w = await sendStreaming({ id: -1 - i, text: 'Warm up the server before measuring.', maxTokens: 4 }, send);
    if (!w.ok) throw new Error(`warm-up request to ${baseURL} failed: ${w.error}`);
  }
  log(`[bench] ${label}: ${items.length} requests at ${p.rate} req/s (burstiness ${p.burstiness}) against ${baseURL}`);
  const bar = createProgressBar({ label: `serve ${label}`, stream: process.stderr, unit: 'count' });
  const loadBefore = loadavg()[0]!;
  const metrics = await runOpenLoop({ ...send, items, offsets, onProgress: bar.update });
  bar.finish();
  return { label, metrics, summary: summarize(metrics, p.slo), loadAverage: [loadBefore, loadavg()[0]!] };
}

export async function runServeBench(argv: string[]): Promise<number> {
  const p = parseServeArgs(argv);
  if (p.help) {
    console.log(SERVE_HELP);
    return 0;
  }
  // --compare without --model serves the generated tiny checkpoint, as tandem up does.
  const modelDir = p.compare && !p.model ? await ensureGeneratedModel('ernie4_5', 'tiny', 0, log) : p.model;
  const items = await buildDataset(p, p.dataset === 'synthetic' ? modelDir : undefined);
  const offsets = arrivalOffsets({ rate: p.rate, burstiness: p.burstiness, count: items.length, seed: p.seed });

  const runs: ReportRun[] = [];
  if (p.url) {
    runs.push(await runAgainst('gateway', p.url, p.servedModel ?? (await servedModelName(p.url, p.apiKey)), p, items, offsets));
  } else {
    for (const mode of p.compare!) {
      const { args, threadsPerProcess } = upCommand(mode, p.threads, []);
      log(`[bench] starting ${mode}: tandem ${args.join(' ')}${threadsPerProcess ? ` (TANDEM_THREADS=${threadsPerProcess} per process)` : ''}`);
      const cluster = await startLocalCluster({ mode, threads: p.threads, upArgs: [...(modelDir ? ['--model', resolve(modelDir)] : []), ...p.upArgs] });
      try {
        runs.push(await runAgainst(mode, cluster.baseURL, p.servedModel ?? cluster.model, p, items, offsets));
      } finally {
        await cluster.stop();
      }
    }
  }

  const config = {
    target: p.url ?? `local tandem up per mode: ${p.compare!.join(', ')}`,
    model: modelDir ?? null,
    threads: p.threads ?? null,
    up_args: p.upArgs,
    num_requests: items.length,
    rate: Number.isFinite(p.rate) ? p.rate : 'inf',
    burstiness: p.burstiness,
    seed: p.seed,
    dataset: p.dataset,
    prompt_len: p.dataset === 'synthetic' ? p.promptLen.spec : null,
    output_len: p.outputLen.spec,
    image_fraction: p.imageFraction,
    ignore_eos: p.ignoreEos,
    logprobs: p.logprobs,
    slo: { ttft_ms: p.slo.ttftMs, tpot_ms: p.slo.tpotMs },
  };
  // The machine's load average rides along: on a shared machine it says how much to trust a run.
  const runJson = (r: ReportRun) => ({ ...summaryJson(r.summary, p.slo), load_average_1m: r.loadAverage?.map((x) => Math.round(x * 100) / 100) ?? null });
  const result: Record<string, unknown> = p.compare
    ? { bench: 'serve-compare', config, runs: Object.fromEntries(runs.map((r) => [r.label, runJson(r)])), better: comparison(runs) }
    : { bench: 'serve', config, ...runJson(runs[0]!) };

  const table = figureTable(runs);
  if (p.json) {
    log(table);
    console.log(JSON.stringify(result));
  } else {
    console.log(table);
  }
  if (p.out) {
    const requests = Object.fromEntries(runs.map((r) => [r.label, requestsJson(r.metrics)]));
    await writeFile(resolve(p.out), JSON.stringify({ ...result, requests }, null, 2) + '\n');
    log(`[bench] wrote ${p.out}`);
  }
  if (p.html) {
    await writeFile(resolve(p.html), renderHtmlReport(`tandem bench serve: ${runs.map((r) => r.label).join(' vs ')}`, config, runs));
    log(`[bench] wrote ${p.html}`);
  }
  return 0;
}
