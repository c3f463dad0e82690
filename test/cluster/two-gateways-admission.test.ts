/**
 * Two gateways of one cluster share one admission bound (Kubernetes runs two gateway replicas).
 * `tandem up --cluster --shared-admission --max-num-seqs 2 --max-waiting 1` (bound 3) plus a second `tandem gateway`
 * process on the same routers, cluster name and Redis; a burst of slow streaming requests split
 * between the two through the official `openai` client: at most 3 are admitted in all (each
 * gateway alone would admit 3), the rest get 429 with Retry-After, saying the queue is full across
 * the cluster — and the slots come back: once the admitted ones finish, both gateways serve again.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTandemUp, type RunningCluster } from '../fixtures/cluster.js';
import { genTinyModel } from '../fixtures/models.js';
import { streamAsk } from '../fixtures/stream-ask.js';

const MODEL = 'tiny';
const NATS = process.env.TANDEM_NATS_URL ?? 'nats://127.0.0.1:4222';
const REDIS = process.env.TANDEM_REDIS_URL ?? 'redis://127.0.0.1:6379';
const CLUSTER = `two-gateways-${process.pid}`;
const BIN = join(import.meta.dirname, '..', '..', 'bin', 'tandem.js');
const BOUND = 3;

let modelDir: string;
let cluster: RunningCluster;
let second: ChildProcess;
let secondURL: string;
let secondOut = '';

beforeAll(async () => {
  modelDir = genTinyModel('ernie4_5', 5);
  cluster = await startTandemUp(
    ['--cluster', '--shared-admission', '--insecure', '--nats', NATS, '--redis', REDIS, '--model', modelDir, '--served-model-name', MODEL, '--cluster-name', CLUSTER, '--max-num-seqs', '2', '--max-waiting', '1'],
    // Slow steps: every admitted request is still running while the burst arrives.
    { TANDEM_FAULT_STEP_DELAY_MS: '40' },
    120_000,
  );
  const router = /\brouter\s+pid \d+\s+\S+\s+grpc (\S+)/.exec(cluster.output())?.[1] ?? /"grpc":"([^"]+)"/.exec(cluster.output())![1]!;
  second = spawn(process.execPath, [BIN, 'gateway', '--router', router, '--model', modelDir, '--served-model-name', MODEL, '--cluster-name', CLUSTER, '--insecure', '--max-num-seqs', '2', '--max-waiting', '1', '--port', '0'], {
    env: { ...process.env, TANDEM_REDIS_URL: REDIS },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  second.stderr!.on('data', (d) => (secondOut += d));
  secondURL = await new Promise<string>((resolve, reject) => {
    second.stdout!.on('data', (d) => {
      secondOut += d;
      const m = /"url":"([^"]+)"/.exec(secondOut);
      if (m) resolve(m[1]!);
    });
    second.once('exit', (code) => reject(new Error(`the second gateway exited (${code}): ${secondOut}`)));
  });
}, 180_000);

afterAll(async () => {
  if (process.env.TANDEM_TEST_DUMP) process.stderr.write((cluster?.output() ?? '') + secondOut);
  second?.kill('SIGTERM');
  await cluster?.stop();
});

const ask = (baseURL: string, i: number, maxTokens: number) => streamAsk(baseURL, 'x', MODEL, i, maxTokens);

describe('two gateways, one admission bound (cluster-wide through Redis)', () => {
  it('a burst split over both gateways admits at most the bound in all; the rest get 429 with Retry-After', async () => {
    expect(cluster.output() + secondOut).toMatch(/admission: 3 requests running or waiting across every gateway of cluster/);
    const results = await Promise.all(Array.from({ length: 16 }, (_, i) => ask(i % 2 ? secondURL : cluster.baseURL, i, 24)));
    const admitted = results.filter((r) => r.status === 200).length;
    const refused = results.filter((r) => r.status === 429);
    process.stderr.write(`${JSON.stringify({ check: 'two gateways, bound 3', requests: 16, admitted, refused: refused.length })}\n`);
    expect(admitted).toBeGreaterThan(0);
    expect(admitted).toBeLessThanOrEqual(BOUND);
    expect(admitted + refused.length).toBe(16);
    for (const r of refused) expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(refused.some((r) => /across the cluster/.test(r.message ?? ''))).toBe(true);
  }, 60_000);

  it('the slots come back when the admitted requests end: both gateways serve again', async () => {
    for (const url of [cluster.baseURL, secondURL]) expect((await ask(url, 99, 2)).status).toBe(200);
  }, 30_000);
});
