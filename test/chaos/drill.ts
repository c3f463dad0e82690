/**
 * What the infrastructure-fault drills share: a `tandem up --cluster` against a private NATS and
 * Redis (never the shared ones: the drills kill them), 16 streaming greedy requests through the
 * official `openai` client, started a little apart so that some are mid-stream, some begin during
 * the outage and some right after it, and the comparison with an undisturbed run of the same 16.
 */
import OpenAI from 'openai';
import { startTandemUp, type RunningCluster } from '../fixtures/cluster.js';
import { genTinyModel } from '../fixtures/models.js';
import { natsServerAvailable, TestNatsServer } from '../fixtures/nats-test-server.js';
import { redisServerAvailable, TestRedisServer } from '../fixtures/redis-test-server.js';

export const MODEL = 'tiny';
export const MAX_TOKENS = 40;
export const STREAMS = 16;
/** Milliseconds between two stream starts (16 starts span 2.25 s). */
export const STAGGER_MS = 150;

/**
 * Three in four prompts are long (over the 32-token local-prefill threshold: prefilled on the
 * prefill worker, whose KV reservation on the decode worker is a NATS request), the rest short
 * (prefilled on the decode worker, no NATS on their path).
 */
export const PROMPTS = Array.from({ length: STREAMS }, (_, i) =>
  Array.from({ length: i % 4 === 3 ? 6 : 40 }, (_, j) => `c${(i * 37 + j * 11) % 113}`).join(' '),
);

export interface Streamed {
  id: string;
  tokens: string[];
  content: string;
  finishReason: string | null;
  error?: string;
  startedAtMs: number;
  endedAtMs: number;
}

/** Under CI a missing server binary is a failure (`.ci/run` installs both), never a skip. */
export function requireServers(): void {
  if (!natsServerAvailable()) throw new Error('nats-server not found (set NATS_SERVER_BIN or install nats-server)');
  if (!redisServerAvailable()) throw new Error('redis-server not found (install redis-server)');
}

export interface DrillCluster {
  nats: TestNatsServer;
  redis: TestRedisServer;
  cluster: RunningCluster;
  name: string;
  stop(): Promise<void>;
}

/**
 * Private NATS + Redis and a cluster on them (router, one prefill-text, one decode-text worker,
 * gateway). No secret flags: `up --cluster` generates one when the cluster is authenticated.
 * Steps are slowed so a 40-token stream lasts long enough to fault in its middle.
 */
export async function startDrillCluster(tag: string): Promise<DrillCluster> {
  requireServers();
  const [nats, redis] = await Promise.all([TestNatsServer.start(), TestRedisServer.start()]);
  const name = `chaos-${tag}-${process.pid}`;
  let cluster: RunningCluster;
  try {
    cluster = await startTandemUp(
      ['--cluster', '--nats', nats.url, '--redis', redis.url, '--model', genTinyModel('ernie4_5', 3), '--served-model-name', MODEL, '--prefill-text', '1', '--decode-text', '1', '--cluster-name', name],
      { TANDEM_FAULT_STEP_DELAY_MS: '25' },
      90_000,
    );
  } catch (e) {
    await Promise.allSettled([nats.destroy(), redis.destroy()]);
    throw e;
  }
  return {
    nats,
    redis,
    cluster,
    name,
    async stop() {
      if (process.env.TANDEM_TEST_DUMP) process.stderr.write(cluster.output());
      await cluster.stop();
      await Promise.allSettled([nats.destroy(), redis.destroy()]);
    },
  };
}

/** One greedy stream of exactly MAX_TOKENS tokens; an error is recorded, never thrown. */
export async function streamOne(baseURL: string, prompt: string, maxTokens = MAX_TOKENS): Promise<Streamed> {
  const out: Streamed = { id: '', tokens: [], content: '', finishReason: null, startedAtMs: Date.now(), endedAtMs: 0 };
  try {
    const s = await new OpenAI({ baseURL, apiKey: 'x', maxRetries: 0, timeout: 30_000 }).chat.completions.create({
      model: MODEL, messages: [{ role: 'user', content: prompt }], max_tokens: maxTokens, temperature: 0, logprobs: true, stream: true,
      // @ts-expect-error Tandem extension (vLLM-style): generate exactly max_tokens.
      ignore_eos: true,
    });
    for await (const chunk of s) {
      out.id = chunk.id;
      const choice = chunk.choices[0];
      out.content += choice?.delta?.content ?? '';
      out.finishReason = choice?.finish_reason ?? out.finishReason;
      for (const t of choice?.logprobs?.content ?? []) out.tokens.push(t.token);
    }
  } catch (e) {
    out.error = (e as Error).message;
  }
  out.endedAtMs = Date.now();
  return out;
}

/** The 16 prompts undisturbed, as concurrent as in the drill (greedy output does not depend on the batch). */
export async function undisturbed(baseURL: string): Promise<Streamed[]> {
  return Promise.all(PROMPTS.map((p) => streamOne(baseURL, p)));
}

/**
 * The 16 streams, started STAGGER_MS apart; `fault` runs once the stream started at `faultAfter`
 * has received its first tokens (several earlier ones are mid-stream then, later ones start
 * during the outage). Resolves with every stream and what `fault` returned.
 */
export async function drill<T>(baseURL: string, fault: () => Promise<T>, faultAfter = 4): Promise<{ streams: Streamed[]; faultResult: T }> {
  let faultRun: Promise<T> | undefined;
  const runs: Array<Promise<Streamed>> = [];
  for (let i = 0; i < STREAMS; i++) {
    if (i === faultAfter) faultRun = fault();
    runs.push(streamOne(baseURL, PROMPTS[i]!));
    await new Promise((r) => setTimeout(r, STAGGER_MS));
  }
  const [streams, faultResult] = await Promise.all([Promise.all(runs), faultRun!]);
  return { streams, faultResult };
}

export interface DrillFigures {
  completed: number;
  identical: number;
  failed: number;
  errors: string[];
}

/** Completed = every token and `length`; identical = the same tokens and text as the undisturbed run. */
export function compare(expected: Streamed[], got: Streamed[]): DrillFigures {
  let completed = 0;
  let identical = 0;
  const errors: string[] = [];
  got.forEach((g, i) => {
    const ok = g.error === undefined && g.finishReason === 'length' && g.tokens.length === MAX_TOKENS;
    if (ok) completed++;
    else errors.push(`#${i}: ${g.error ?? `finish ${g.finishReason}, ${g.tokens.length} tokens`}`);
    if (ok && g.content === expected[i]!.content && g.tokens.join('\u0000') === expected[i]!.tokens.join('\u0000')) identical++;
  });
  return { completed, identical, failed: STREAMS - completed, errors };
}

/** The router's /metrics URL as `up --cluster` printed it. */
export function routerMetricsUrl(c: RunningCluster): string {
  return /\brouter\s+pid \d+\s+(http:\S+\/metrics)/.exec(c.output())![1]!;
}

/**
 * The decode worker's KV usage once it reached 0 or `withinMs` passed (blocks still held by
 * reservations or sequences after the drill: leaked, or waiting for their lease to expire).
 */
export async function decodeKvUsageAfter(c: RunningCluster, withinMs: number): Promise<number> {
  const url = /decode-text-0\s+pid \d+\s+(?:id \S+\s+)?(http:\S+\/metrics)/.exec(c.output())![1]!;
  const t0 = Date.now();
  for (;;) {
    const usage = counterSum(await (await fetch(url)).text(), 'tandem_worker_kv_cache_usage_perc');
    if (usage === 0 || Date.now() - t0 > withinMs) return usage;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A counter summed over its label sets (0 when absent). */
export function counterSum(text: string, name: string): number {
  let sum = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)$`, 'gm'))) sum += Number(m[1]);
  return sum;
}
