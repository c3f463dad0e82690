/**
 * Quantized weights through the whole P/D path: `tandem up --cluster --quantization wint4`
 * (separate processes, real NATS, Redis and UCX) gives greedy outputs bit-identical to a unified
 * wint4 server, KV moves between the pools as with bf16, and a worker started with a different
 * setting refuses to join the cluster with an error that says what to do (started by hand, it
 * gets the cluster's secret file like any other component joining it).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSecretFile } from '../../services/common/security/secret-file.js';
import { startTandemUp, type RunningCluster } from '../fixtures/cluster.js';
import { genTinyModel } from '../fixtures/models.js';

const MODEL = 'tiny-moe';
const NATS = process.env.TANDEM_NATS_URL ?? 'nats://127.0.0.1:4222';
const REDIS = process.env.TANDEM_REDIS_URL ?? 'redis://127.0.0.1:6379';
const CLUSTER = 'quantized-test';
const root = join(import.meta.dirname, '..', '..');
// Well over the 32-token local-prefill threshold, so every request is disaggregated.
const prompts = Array.from({ length: 4 }, (_, i) => Array.from({ length: 40 }, (_, j) => `q${(i * 17 + j * 5) % 89}`).join(' '));

async function greedyAll(c: RunningCluster): Promise<string[]> {
  const client = new OpenAI({ baseURL: c.baseURL, apiKey: 'x' });
  const out: string[] = [];
  for (const content of prompts) {
    const r = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content }], max_tokens: 16, temperature: 0 });
    out.push(r.choices[0]!.message.content ?? '');
  }
  return out;
}

let modelDir: string;
let bf16: string[];
let unifiedWint4: string[];
let cluster: RunningCluster;
const secretDir = mkdtempSync(join(tmpdir(), 'tandem-quantized-'));
const SECRET_FILE = join(secretDir, 'cluster-secret');
createSecretFile(SECRET_FILE);

beforeAll(async () => {
  modelDir = genTinyModel('ernie4_5_moe', 5);
  for (const q of ['none', 'wint4']) {
    const u = await startTandemUp(['--mode', 'unified', '--model', modelDir, '--served-model-name', MODEL, '--quantization', q]);
    try {
      if (q === 'none') bf16 = await greedyAll(u);
      else unifiedWint4 = await greedyAll(u);
    } finally {
      await u.stop();
    }
  }
  cluster = await startTandemUp(
    ['--cluster', '--nats', NATS, '--redis', REDIS, '--cluster-name', CLUSTER, '--cluster-secret-file', SECRET_FILE, '--model', modelDir, '--served-model-name', MODEL, '--quantization', 'wint4'],
    {},
    120_000,
  );
}, 240_000);
afterAll(async () => {
  await cluster?.stop();
  rmSync(secretDir, { recursive: true, force: true });
});

describe('wint4 weights in a disaggregated cluster', () => {
  it('greedy outputs are bit-identical to a unified wint4 server, and differ from bf16 (the setting is applied)', async () => {
    expect(await greedyAll(cluster)).toEqual(unifiedWint4);
    expect(unifiedWint4).not.toEqual(bf16);
  });

  it('the prefill worker pushed the KV to the decode worker', async () => {
    const metrics = /prefill-text-0\s+pid \d+\s+(?:id \S+\s+)?(http:\S+\/metrics)/.exec(cluster.output())![1]!;
    const m = /tandem_kv_transfer_bytes_total\{backend="(ucx|tcp|local)"\} (\d+)/.exec(await (await fetch(metrics)).text());
    expect(Number(m?.[2] ?? 0)).toBeGreaterThan(0);
  });

  it('a decode worker with bf16 weights refuses to join the wint4 cluster, saying what to do', async () => {
    const proc = spawn(process.execPath, [join(root, 'bin', 'tandem.js'), 'worker', '--role', 'decode-text', '--nats', NATS, '--cluster-name', CLUSTER, '--cluster-secret-file', SECRET_FILE, '--model', modelDir, '--served-model-name', MODEL], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout!.on('data', (d) => (out += d));
    proc.stderr!.on('data', (d) => (out += d));
    const code = await new Promise<number | null>((resolve) => proc.on('exit', resolve));
    expect(code).not.toBe(0);
    expect(out).toMatch(/uses --quantization none, but \S+ worker \S+ .* uses wint4: prefill and decode workers must use the same setting/);
    expect(out).toMatch(/Start it with --quantization wint4/);
    // The cluster is untouched: requests still work.
    expect((await greedyAll(cluster))[0]).toEqual(unifiedWint4[0]);
  });
});
