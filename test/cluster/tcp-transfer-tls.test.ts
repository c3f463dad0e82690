/**
 * The TCP KV transfer inside a real `tandem up --cluster --transfer-backend tcp` (chosen although
 * UCX is available here, as an operator does where the workers' network is not trusted): with the run's cluster secret every KV push is a TLS-PSK connection
 * between the prefill and the decode worker; disaggregated requests are served, the KV bytes went
 * over tcp, and no transfer connection was refused. And a peer holding the cluster secret (so it
 * passes TLS-PSK and can open the decode worker's registry record) still cannot write into the
 * decode worker's KV pool outside a lease the worker handed out.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tandemHome } from '../../services/common/paths.js';
import { ClusterKeys } from '../../services/common/security/cluster-keys.js';
import { readSecretFile } from '../../services/common/security/secret-file.js';
import { createTransferEngine, TransferError } from '../../services/transfer/transfer-engine.js';
import { decodePoolDescriptor, sprayWithoutLease } from '../fixtures/kv-pool-probe.js';
import { startTandemUp, type RunningCluster } from '../fixtures/cluster.js';
import { genTinyModel } from '../fixtures/models.js';

const MODEL = 'tiny-tcp-tls';
const NATS = process.env.TANDEM_NATS_URL ?? 'nats://127.0.0.1:4222';
const REDIS = process.env.TANDEM_REDIS_URL ?? 'redis://127.0.0.1:6379';
const CLUSTER = `tcp-tls-${process.pid}`;
// Over the 32-token local-prefill threshold: prefilled on the prefill worker, KV pushed.
const PROMPT_IDS = Array.from({ length: 48 }, (_, i) => 300 + ((i * 37) % 97));

let cluster: RunningCluster;

const metricsUrl = (role: string) => new RegExp(`${role}\\s+pid \\d+\\s+(?:id \\S+\\s+)?(http:\\S+/metrics)`).exec(cluster.output())![1]!;
async function complete(prompt: number[], maxTokens: number): Promise<{ status: number; text: string }> {
  const r = await fetch(`${cluster.baseURL}/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, prompt, max_tokens: maxTokens, temperature: 0 }),
  });
  return { status: r.status, text: await r.text() };
}

async function metric(role: string, name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(metricsUrl(role))).text();
  let sum = 0;
  for (const m of text.matchAll(new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`, 'gm'))) {
    const have = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1]!, x[2]!]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[2]);
  }
  return sum;
}

beforeAll(async () => {
  const modelDir = genTinyModel('ernie4_5', 12);
  cluster = await startTandemUp(
    ['--cluster', '--nats', NATS, '--redis', REDIS, '--model', modelDir, '--served-model-name', MODEL, '--prefill-text', '1', '--decode-text', '1', '--cluster-name', CLUSTER, '--transfer-backend', 'tcp'],
    { TANDEM_CLUSTER_SECRET_FILE: '', TANDEM_INSECURE: '', TANDEM_TRANSFER_BACKEND: '' },
    120_000,
  );
}, 180_000);

afterAll(async () => {
  if (process.env.TANDEM_TEST_DUMP) process.stderr.write(cluster?.output() ?? '');
  await cluster?.stop();
});

describe('tandem up --cluster on the tcp transfer backend', () => {
  it('a worker refuses an unknown --transfer-backend, saying what it takes', () => {
    const r = spawnSync(process.execPath, [join(import.meta.dirname, '..', '..', 'bin', 'tandem.js'), 'worker', '--role', 'decode-text', '--nats', NATS, '--insecure', '--transfer-backend', 'rdma'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/--transfer-backend must be auto, ucx or tcp, got 'rdma'/);
  });

  it('pushes KV over TLS-PSK between the workers: requests served, bytes over tcp, nothing refused', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`${cluster.baseURL}/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: MODEL, prompt: PROMPT_IDS.map((t) => t + i), max_tokens: 4, temperature: 0 }),
      });
      expect(r.status, await r.clone().text()).toBe(200);
      expect(((await r.json()) as { usage: { completion_tokens: number } }).usage.completion_tokens).toBe(4);
    }
    expect(await metric('prefill-text-0', 'tandem_kv_transfer_bytes_total', { backend: 'tcp' })).toBeGreaterThan(0);
    expect(await metric('prefill-text-0', 'tandem_kv_transfer_bytes_total', { backend: 'ucx' })).toBe(0);
    expect(await metric('decode-text-0', 'tandem_auth_rejected_total', { plane: 'transfer' })).toBe(0);
  });

  it('a peer with the cluster secret cannot write into the decode pool without a lease, or under a made-up one', async () => {
    const prompt = PROMPT_IDS.map((t) => t + 50);
    const before = await complete(prompt, 8);
    expect(before.status, before.text).toBe(200);

    const refusedBefore = await metric('decode-text-0', 'tandem_auth_rejected_total', { plane: 'transfer', reason: 'not_granted' });
    const keys = ClusterKeys.fromSecret(readSecretFile(join(tandemHome(), 'clusters', CLUSTER, `secret.${cluster.proc.pid}`)).secret);
    const region = (await decodePoolDescriptor(NATS, CLUSTER, keys))!;
    expect(region.backend).toBe('tcp');
    const sender = await createTransferEngine('tcp', { authKey: keys.transfer });
    try {
      for (const err of await sprayWithoutLease(sender, region)) {
        expect(err).toBeInstanceOf(TransferError);
        expect((err as TransferError).code).toBe('not_granted');
      }
    } finally {
      await sender.close();
    }
    expect(await metric('decode-text-0', 'tandem_auth_rejected_total', { plane: 'transfer', reason: 'not_granted' })).toBe(refusedBefore + 2);
    // The pool was not touched: the same prompt (its prefix cached on the decode worker) still
    // gives the same greedy tokens, and new prompts are served.
    const after = await complete(prompt, 8);
    expect(after.status, after.text).toBe(200);
    expect(JSON.parse(after.text).choices[0].text).toBe(JSON.parse(before.text).choices[0].text);
    expect((await complete(PROMPT_IDS.map((t) => t + 60), 4)).status).toBe(200);
  });
});
