/**
 * The router killed (-9) in the middle of a stream, with `tandem up --cluster` (router, one
 * prefill-text and one decode-text worker, gateway: separate processes, real NATS and Redis):
 * `up --cluster` restarts the router on its port, the gateway asks it to Resume the request, and
 * the new router takes it over from the sequence store alone (stored prompt and sampling with
 * the pinned seed, checkpointed tokens). The client, on the official `openai` client, sees one
 * stream whose tokens are those of an uninterrupted run — greedy and seeded sampling — with no
 * duplicate and no gap; the longest pause between two tokens is reported.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricValue, settledHistory, startTandemUp, type RunningCluster } from '../fixtures/cluster.js';
import { genTinyModel } from '../fixtures/models.js';
import { ClusterKeys } from '../../services/common/security/cluster-keys.js';
import { createSecretFile, readSecretFile } from '../../services/common/security/secret-file.js';
import { AtRestCipher } from '../../services/state/at-rest.js';

const MODEL = 'tiny';
const NATS = process.env.TANDEM_NATS_URL ?? 'nats://127.0.0.1:4222';
const REDIS = process.env.TANDEM_REDIS_URL ?? 'redis://127.0.0.1:6379';
const MAX_TOKENS = 64;
// Over the 32-token local-prefill threshold: prefilled on the prefill worker, decoded on the decode worker.
const PROMPT = Array.from({ length: 40 }, (_, j) => `r${(j * 13) % 101}`).join(' ');

let cluster: RunningCluster;
// The cluster's secret, ours so that the test can open what the router stored encrypted.
const SECRET_FILE = join(mkdtempSync(join(tmpdir(), 'tandem-secret-')), 'secret');
createSecretFile(SECRET_FILE);

interface Sampling {
  temperature: number;
  top_p?: number;
  seed?: number;
}

interface Streamed {
  id: string;
  tokens: string[];
  content: string;
  finishReason: string | null;
  longestGapMs: number;
}

async function stream(sampling: Sampling, onToken?: (n: number) => void): Promise<Streamed> {
  const s = await new OpenAI({ baseURL: cluster.baseURL, apiKey: 'x', maxRetries: 0 }).chat.completions.create({
    model: MODEL, messages: [{ role: 'user', content: PROMPT }], max_tokens: MAX_TOKENS, logprobs: true, stream: true, ...sampling,
    // @ts-expect-error Tandem extension (vLLM-style): generate exactly max_tokens.
    ignore_eos: true,
  });
  const out: Streamed = { id: '', tokens: [], content: '', finishReason: null, longestGapMs: 0 };
  let lastAt = 0;
  for await (const chunk of s) {
    out.id = chunk.id;
    const choice = chunk.choices[0];
    out.content += choice?.delta?.content ?? '';
    out.finishReason = choice?.finish_reason ?? out.finishReason;
    for (const t of choice?.logprobs?.content ?? []) {
      const now = Date.now();
      if (out.tokens.length > 0) out.longestGapMs = Math.max(out.longestGapMs, now - lastAt);
      lastAt = now;
      out.tokens.push(t.token);
      onToken?.(out.tokens.length);
    }
  }
  return out;
}

/** The router's pid now: the one `up --cluster` started, or the last one it restarted. */
function routerPid(): number {
  const restarted = [...cluster.output().matchAll(/restarted router: pid (\d+)/g)];
  return Number(restarted.length ? restarted.at(-1)![1] : /\brouter\s+pid (\d+)/.exec(cluster.output())![1]);
}

async function routerRestarts(count: number): Promise<string> {
  const t0 = Date.now();
  for (;;) {
    const lines = [...cluster.output().matchAll(/restarted router: pid \d+ (\S+)/g)];
    if (lines.length >= count) return lines[count - 1]![1]!;
    if (Date.now() - t0 > 30_000) throw new Error(`the router was not restarted:\n${cluster.output().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Timeline of one kill: ms from the kill to the restarted router's ready line, and to the next token. */
interface KillTimeline {
  restartedAfterMs: number;
  nextTokenAfterMs: number;
}

/** Streams once uninterrupted, then again with the router SIGKILLed after `killAt` tokens. */
async function killedMidStream(sampling: Sampling, killAt: number, restartsBefore: number): Promise<{ expected: Streamed; got: Streamed; timeline: KillTimeline }> {
  const expected = await stream(sampling);
  expect(expected.tokens).toHaveLength(MAX_TOKENS);
  const pid = routerPid();
  let killedAt = 0;
  const timeline: KillTimeline = { restartedAfterMs: -1, nextTokenAfterMs: -1 };
  const restarted = routerRestarts(restartsBefore + 1);
  void restarted.then(() => (timeline.restartedAfterMs = Date.now() - killedAt), () => undefined);
  const got = await stream(sampling, (n) => {
    if (n === killAt + 1) timeline.nextTokenAfterMs = Date.now() - killedAt;
    if (n !== killAt) return;
    killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
  });
  expect(killedAt).toBeGreaterThan(0);
  await restarted;
  return { expected, got, timeline };
}

beforeAll(async () => {
  const modelDir = genTinyModel('ernie4_5', 3);
  cluster = await startTandemUp(
    ['--cluster', '--nats', NATS, '--redis', REDIS, '--model', modelDir, '--served-model-name', MODEL, '--prefill-text', '1', '--decode-text', '1', '--cluster-name', `router-restart-${process.pid}`, '--cluster-secret-file', SECRET_FILE],
    // Slowed steps, so a stream lasts long enough to kill the router in its middle.
    { TANDEM_FAULT_STEP_DELAY_MS: '30' },
    120_000,
  );
}, 180_000);
afterAll(async () => {
  if (process.env.TANDEM_TEST_DUMP) process.stderr.write(cluster?.output() ?? '');
  await cluster?.stop();
});

describe('router killed mid-stream (tandem up --cluster restarts it; the gateway resumes from the store)', () => {
  const redis = new Redis(REDIS, { lazyConnect: true });
  afterAll(() => redis.disconnect());

  it('greedy, killed before the first token checkpoint: the stream completes identical to an uninterrupted run', async () => {
    const { expected, got, timeline } = await killedMidStream({ temperature: 0 }, 10, 0);
    expect(got.tokens).toEqual(expected.tokens);
    expect(got.content).toBe(expected.content);
    expect(got.finishReason).toBe('length');
    process.stderr.write(`[router kill -9, greedy, at token 10] longest gap between tokens ${got.longestGapMs} ms; router ready again ${timeline.restartedAfterMs} ms and next token ${timeline.nextTokenAfterMs} ms after the kill\n`);
    expect(got.longestGapMs).toBeLessThan(10_000);
    // queued → prefilling → transferring → decoding, then the new router's claim: prefilling → decoding → finished.
    const key = `tandem:seq:${got.id}-0`;
    expect(await settledHistory(redis, key)).toBe('qptdpdf');
    expect(Number(await redis.hget(key, 'attempt'))).toBe(2);
    // The gateway may have relayed a few more tokens than the client had read when it killed the
    // router (a busy machine): at least the 10 the client saw.
    const lost = /router lost; resumed after (\d+) delivered tokens/.exec((await redis.hget(key, 'error')) ?? '');
    expect(Number(lost?.[1])).toBeGreaterThanOrEqual(10);
    expect(Number(lost?.[1])).toBeLessThan(64);
    // What the new router resumed from: the request itself, with the seed it pinned.
    // Stored encrypted with the cluster's state key: opened with the secret this test gave the cluster.
    const stored = (await redis.get(`${key}:request`))!;
    expect(stored.startsWith('sealed:v1:')).toBe(true);
    const request = JSON.parse(new AtRestCipher(ClusterKeys.fromSecret(readSecretFile(SECRET_FILE).secret).state).openRequest(`${got.id}-0`, stored)) as { promptTokenIds: number[]; sampling: { seed?: number; maxTokens: number } };
    expect(request.sampling.maxTokens).toBe(MAX_TOKENS);
    expect(request.sampling.seed).toBeTypeOf('number');
    expect(request.promptTokenIds.length).toBeGreaterThan(32);
  });

  it('seeded sampling, killed after a checkpoint: resumes from the stored tokens, identical to an uninterrupted run', async () => {
    const { expected, got, timeline } = await killedMidStream({ temperature: 0.9, top_p: 0.95, seed: 1234 }, 40, 1);
    expect(got.tokens).toEqual(expected.tokens);
    expect(got.content).toBe(expected.content);
    process.stderr.write(`[router kill -9, seeded, at token 40] longest gap between tokens ${got.longestGapMs} ms; router ready again ${timeline.restartedAfterMs} ms and next token ${timeline.nextTokenAfterMs} ms after the kill\n`);
    expect(got.longestGapMs).toBeLessThan(10_000);
    const key = `tandem:seq:${got.id}-0`;
    expect(await settledHistory(redis, key)).toBe('qptdpdf');
    // 32 tokens were checkpointed before the kill (every 32), the rest after the resume.
    // At least the 40 tokens the client had read (the gateway may have relayed a few more), 32 of
    // them checkpointed (the next checkpoint is at 64, the end).
    const lost = /after (\d+) delivered tokens \((\d+) checkpointed\)/.exec((await redis.hget(key, 'error')) ?? '');
    expect(Number(lost?.[1])).toBeGreaterThanOrEqual(40);
    expect(Number(lost?.[2])).toBe(32);
    expect((await redis.strlen(`${key}:tokens`)) / 4).toBeGreaterThanOrEqual(32);
  });

  it('the restarted router counted its resumes; the decode worker holds no KV afterwards', async () => {
    const metrics = await routerRestarts(2);
    expect(metricValue(await (await fetch(metrics)).text(), 'tandem_router_resumes_total')).toBe(1);
    const decode = /decode-text-0\s+pid \d+\s+(?:id \S+\s+)?(http:\S+\/metrics)/.exec(cluster.output())![1]!;
    const t0 = Date.now();
    let usage = 1;
    while (usage > 0 && Date.now() - t0 < 2000) {
      usage = metricValue(await (await fetch(decode)).text(), 'tandem_worker_kv_cache_usage_perc');
      if (usage > 0) await new Promise((r) => setTimeout(r, 50));
    }
    expect(usage).toBe(0);
  });
});
