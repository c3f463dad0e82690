/**
 * A tenant's per-key limits hold across the gateways of one cluster (Kubernetes runs two or more
 * gateway replicas). `tandem up --cluster --shared-admission --api-keys-file F` plus a second
 * `tandem gateway` process with the same keys file, cluster name and Redis; bursts split between
 * the two through the official `openai` client:
 *  - a key with `concurrency=2`: 2 admitted in all (each gateway alone would admit 2), the rest
 *    429 with Retry-After, saying so "across the cluster"; the slots come back afterwards;
 *  - a key with `rpm=6` (a burst of 1): 1 admitted in all, the rest 429 with the Retry-After of
 *    the shared bucket;
 *  - a gateway SIGKILLed while it holds the key's 2 slots: the other gateway refuses the key
 *    until the dead one's liveness has run out (10 s), then admits it again;
 *  - a gateway whose Redis stops answering (CLIENT PAUSE on a private redis-server) decides
 *    on its own count: the key's limit per gateway, counted in
 *    tandem_gateway_key_limits_cluster_fallbacks_total.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricValue, startTandemUp, type RunningCluster } from '../fixtures/cluster.js';
import { genTinyModel } from '../fixtures/models.js';
import { streamAsk, type StreamOutcome as Outcome } from '../fixtures/stream-ask.js';
import { rawCommand, TestRedisServer } from '../fixtures/redis-test-server.js';

const MODEL = 'tiny';
const NATS = process.env.TANDEM_NATS_URL ?? 'nats://127.0.0.1:4222';
const REDIS = process.env.TANDEM_REDIS_URL ?? 'redis://127.0.0.1:6379';
const CLUSTER = `key-limits-${process.pid}`;
const BIN = join(import.meta.dirname, '..', '..', 'bin', 'tandem.js');
const CONC_KEY = 'sk-concurrency-two-0001';
const RATE_KEY = 'sk-rate-six-per-minute-0002';

let modelDir: string;
let keysFile: string;
let cluster: RunningCluster;
let router: string;
const extra: ChildProcess[] = [];
let output = '';
let privateRedis: TestRedisServer;

/** Another `tandem gateway` on the cluster's router, with `redis` for its shared counts. */
async function startGateway(redis: string): Promise<string> {
  return (await startGatewayProcess(redis)).url;
}

async function startGatewayProcess(redis: string): Promise<{ url: string; proc: ChildProcess }> {
  const p = spawn(process.execPath, [BIN, 'gateway', '--router', router, '--model', modelDir, '--served-model-name', MODEL, '--cluster-name', CLUSTER, '--insecure', '--max-num-seqs', '8', '--max-waiting', '8', '--port', '0'], {
    env: { ...process.env, TANDEM_REDIS_URL: redis, TANDEM_API_KEYS_FILE: keysFile },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  extra.push(p);
  let out = '';
  p.stderr!.on('data', (d) => (output += d));
  return new Promise<string>((resolve, reject) => {
    p.stdout!.on('data', (d) => {
      out += d;
      const m = /"url":"([^"]+)"/.exec(out);
      if (m) resolve({ url: m[1]!, proc: p });
    });
    p.once('exit', (code) => reject(new Error(`a gateway exited (${code}): ${output}`)));
  });
}

let secondURL: string;

beforeAll(async () => {
  modelDir = genTinyModel('ernie4_5', 6);
  keysFile = join(mkdtempSync(join(tmpdir(), 'tandem-keys-')), 'api-keys');
  writeFileSync(keysFile, `${CONC_KEY} tenant-a concurrency=2\n${RATE_KEY} tenant-b rpm=6\n`, { mode: 0o600 });
  cluster = await startTandemUp(
    ['--cluster', '--shared-admission', '--insecure', '--nats', NATS, '--redis', REDIS, '--model', modelDir, '--served-model-name', MODEL, '--cluster-name', CLUSTER, '--max-num-seqs', '8', '--max-waiting', '8', '--api-keys-file', keysFile],
    // Slow steps: every admitted stream is still running while the burst arrives.
    { TANDEM_FAULT_STEP_DELAY_MS: '40' },
    120_000,
  );
  router = /\brouter\s+pid \d+\s+\S+\s+grpc (\S+)/.exec(cluster.output())![1]!;
  secondURL = await startGateway(REDIS);
  privateRedis = await TestRedisServer.start();
}, 180_000);

afterAll(async () => {
  if (process.env.TANDEM_TEST_DUMP) process.stderr.write((cluster?.output() ?? '') + output);
  for (const p of extra) p.kill('SIGTERM');
  await cluster?.stop();
  await privateRedis?.destroy();
});

const ask = (baseURL: string, apiKey: string, i: number, maxTokens: number) => streamAsk(baseURL, apiKey, MODEL, i, maxTokens);

function tally(check: string, results: Outcome[]): { admitted: number; refused: Outcome[] } {
  const admitted = results.filter((r) => r.status === 200).length;
  const refused = results.filter((r) => r.status === 429);
  process.stderr.write(`${JSON.stringify({ check, requests: results.length, admitted, refused: refused.length, retry_after: [...new Set(refused.map((r) => r.retryAfter))] })}\n`);
  expect(admitted + refused.length, JSON.stringify(results.filter((r) => r.status !== 200 && r.status !== 429))).toBe(results.length);
  for (const r of refused) expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
  return { admitted, refused };
}

describe('per-key limits across two gateways (shared through Redis)', () => {
  it('concurrency=2: a burst split over both gateways admits 2 in all; the rest get 429 with Retry-After', async () => {
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => ask(i % 2 ? secondURL : cluster.baseURL, CONC_KEY, i, 24)));
    const { admitted, refused } = tally('two gateways, key concurrency=2', results);
    expect(admitted).toBe(2);
    expect(refused.some((r) => /concurrent requests running across the cluster/.test(r.message ?? ''))).toBe(true);
  }, 60_000);

  it('the key\'s slots come back when its requests end: both gateways serve it again', async () => {
    for (const url of [cluster.baseURL, secondURL]) expect((await ask(url, CONC_KEY, 99, 2)).status).toBe(200);
  }, 30_000);

  it('rpm=6 (a burst of 1): one request admitted across both gateways, the rest 429 with the shared bucket\'s Retry-After', async () => {
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => ask(i % 2 ? secondURL : cluster.baseURL, RATE_KEY, i, 2)));
    const { admitted, refused } = tally('two gateways, key rpm=6', results);
    expect(admitted).toBe(1);
    // One token every 10 s: the next one is 9-10 s away.
    for (const r of refused) expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(5);
    expect(refused.some((r) => /across the cluster/.test(r.message ?? ''))).toBe(true);
    // Redis answered every time: nothing was decided on a gateway's own count.
    const scraped = await (await fetch(`${cluster.origin}/metrics`)).text();
    expect(metricValue(scraped, 'tandem_gateway_key_limits_cluster_fallbacks_total')).toBe(0);
  }, 60_000);

  it('a gateway killed (-9) while it holds the key\'s slots: they are swept once its liveness has run out, then the key is admitted again', async () => {
    const doomed = await startGatewayProcess(REDIS);
    // Two long streams of the key through the doomed gateway: its 2 slots, cluster-wide.
    let streaming = 0;
    const held = Array.from({ length: 2 }, async (_, i) => {
      try {
        const s = await new OpenAI({ baseURL: doomed.url, apiKey: CONC_KEY, maxRetries: 0 }).chat.completions.create({
          model: MODEL, messages: [{ role: 'user', content: `held ${i}` }], max_tokens: 400, temperature: 0, stream: true,
          // @ts-expect-error Tandem extension (vLLM-style): generate exactly max_tokens.
          ignore_eos: true,
        });
        let first = true;
        for await (const _ of s) if (first) (first = false), streaming++;
      } catch {
        // the gateway is killed under it
      }
    });
    for (const t0 = Date.now(); streaming < 2; ) {
      if (Date.now() - t0 > 20_000) throw new Error('the held streams did not start');
      await new Promise((r) => setTimeout(r, 20));
    }
    doomed.proc.kill('SIGKILL');
    const killedAt = Date.now();
    await Promise.all(held);
    expect((await ask(cluster.baseURL, CONC_KEY, 1, 2)).status).toBe(429);
    let admittedAfterMs = -1;
    while (Date.now() - killedAt < 20_000) {
      if ((await ask(cluster.baseURL, CONC_KEY, 2, 2)).status === 200) {
        admittedAfterMs = Date.now() - killedAt;
        break;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    process.stderr.write(`${JSON.stringify({ check: 'key slots of a killed gateway swept', admitted_again_after_ms: admittedAfterMs })}\n`);
    // Liveness: refreshed every 3.3 s, gone 10 s after the last refresh.
    expect(admittedAfterMs).toBeGreaterThanOrEqual(6_000);
    expect(admittedAfterMs).toBeLessThan(15_000);
  }, 60_000);

  it('a gateway whose Redis does not answer decides on its own count (the key\'s limit on that gateway) and counts the fallbacks', async () => {
    const third = await startGateway(privateRedis.url);
    // Redis stops answering this gateway (every client paused) for 4 s.
    expect(await rawCommand(privateRedis.port, ['CLIENT', 'PAUSE', '4000', 'ALL'])).toMatch(/OK/);
    const results = await Promise.all(Array.from({ length: 4 }, (_, i) => ask(third, CONC_KEY, i, 24)));
    const { admitted } = tally('gateway with Redis paused, key concurrency=2', results);
    expect(admitted).toBe(2);
    const scraped = await (await fetch(`${third.replace(/\/v1$/, '')}/metrics`)).text();
    expect(metricValue(scraped, 'tandem_gateway_key_limits_cluster_fallbacks_total')).toBeGreaterThanOrEqual(2);
  }, 60_000);
});
