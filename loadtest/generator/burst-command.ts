/**
 * `tandem bench burst`: N chat requests sent at once (over N already-open connections) into a
 * gateway whose queue holds far fewer (`tandem up --mode <mode> --max-num-seqs S --max-waiting W`
 * started here, or --url): how many were admitted, whether running + waiting ever passed the
 * bound (sampled from /metrics), and how fast the rest were refused with 429 + Retry-After.
 *
 * The bound it reports beside the refusal latency: N `/health` requests sent at once in the same
 * run, once the refusals are in and while the admitted requests still run — what the server's
 * event loop and this client take to answer N trivial requests under that load. The ratio says
 * how much a refusal costs beyond that.
 */
import http from 'node:http';
import { loadavg } from 'node:os';
import { CliError } from '../../services/cli/cli-error.js';
import { intOption, parseCommandArgs } from '../../services/cli/parse.js';
import { startLocalCluster } from './local-cluster.js';

export const BURST_HELP = `usage: tandem bench burst [--url URL] [--requests 200] [--mode unified|disagg] [--max-num-seqs 8]
                         [--max-waiting 8] [--max-tokens 64] [--model DIR] [--json]

Sends --requests chat requests at once (each on its own open connection) to --url, or to a
'tandem up --mode MODE' started here with --max-num-seqs + --max-waiting as its queue bound;
reports admitted / refused / other, the peak of tandem_gateway_requests_in_flight against the
bound, refusal latency percentiles at the client, and as their bound the latency of as many
/health requests sent at once in the same run.`;

interface Answer {
  status: number;
  ms: number;
  retryAfter?: string;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! * 10) / 10;
}

function send(agent: http.Agent, url: URL, path: string, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.request(
      { host: url.hostname, port: url.port, path, method: body ? 'POST' : 'GET', agent, headers: body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {} },
      (res) => {
        const ms = performance.now() - t0;
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms, retryAfter: res.headers['retry-after'] as string | undefined }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function inFlight(base: URL): Promise<number> {
  const text = await (await fetch(new URL('/metrics', base))).text();
  const m = /^tandem_gateway_requests_in_flight (\S+)$/m.exec(text);
  return m ? Number(m[1]) : NaN;
}

export async function runBurstBench(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    url: { type: 'string' },
    requests: { type: 'string' },
    mode: { type: 'string' },
    'max-num-seqs': { type: 'string' },
    'max-waiting': { type: 'string' },
    'max-tokens': { type: 'string' },
    model: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    console.log(BURST_HELP);
    return 0;
  }
  const n = intOption(values.requests, 'requests', 200, 1);
  const seqs = intOption(values['max-num-seqs'], 'max-num-seqs', 8, 1);
  const waiting = intOption(values['max-waiting'], 'max-waiting', 8, 1);
  const maxTokens = intOption(values['max-tokens'], 'max-tokens', 64, 1);
  const mode = values.mode ?? 'unified';
  if (mode !== 'unified' && mode !== 'disagg') throw new CliError('--mode must be unified or disagg');
  const cluster = values.url
    ? undefined
    : await startLocalCluster({ mode, upArgs: ['--max-num-seqs', String(seqs), '--max-waiting', String(waiting), ...(values.model ? ['--model', values.model] : [])] });
  const baseURL = new URL(values.url ?? cluster!.baseURL);
  try {
    const model = ((await (await fetch(`${baseURL.href.replace(/\/$/, '')}/models`)).json()) as { data: Array<{ id: string }> }).data[0]!.id;
    const agent = new http.Agent({ keepAlive: true, maxSockets: n });
    // Open every connection first, so the burst measures requests, not TCP handshakes.
    await Promise.all(Array.from({ length: n }, () => send(agent, baseURL, '/health')));
    const body = JSON.stringify({ model, messages: [{ role: 'user', content: 'burst' }], max_tokens: maxTokens, ignore_eos: true });
    let peak = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, await inFlight(baseURL).catch(() => 0));
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const path = `${baseURL.pathname.replace(/\/$/, '')}/chat/completions`;
    let settledAt = performance.now();
    const chat = Array.from({ length: n }, () => send(agent, baseURL, path, body).then((a) => ((settledAt = performance.now()), a)));
    // The bound: once no refusal has come for 100 ms (the admitted requests still running), as
    // many trivial requests at once.
    while (performance.now() - settledAt < 100) await new Promise((r) => setTimeout(r, 10));
    const health = await Promise.all(Array.from({ length: n }, () => send(agent, baseURL, '/health')));
    const answers = await Promise.all(chat);
    sampling = false;
    await sampler;
    agent.destroy();
    const refused = answers.filter((a) => a.status === 429 || a.status === 503);
    const refusedMs = refused.map((a) => a.ms).sort((a, b) => a - b);
    const healthMs = health.map((a) => a.ms).sort((a, b) => a - b);
    const result = {
      bench: 'burst',
      mode: values.url ? 'url' : mode,
      requests: n,
      limit: values.url ? undefined : seqs + waiting,
      admitted: answers.filter((a) => a.status === 200).length,
      refused: refused.length,
      other: answers.filter((a) => a.status !== 200 && a.status !== 429 && a.status !== 503).length,
      refused_with_retry_after: refused.filter((a) => Number(a.retryAfter) >= 1).length,
      in_flight_peak: peak,
      refusal_ms: { p50: percentile(refusedMs, 0.5), p90: percentile(refusedMs, 0.9), max: percentile(refusedMs, 1) },
      health_ms: { p50: percentile(healthMs, 0.5), p90: percentile(healthMs, 0.9), max: percentile(healthMs, 1) },
      refusal_over_health_p50: Math.round((percentile(refusedMs, 0.5) / percentile(healthMs, 0.5)) * 100) / 100,
      loadavg_1m: loadavg()[0],
    };
    console.log(values.json ? JSON.stringify(result) : JSON.stringify(result, null, 2));
    return 0;
  } finally {
    await cluster?.stop();
  }
}
