/**
 * The TCP KV transfer inside a real `tandem up --cluster` (UCX made unusable, so workers fall
 * back to the tcp backend): with the run's cluster secret every KV push is a TLS-PSK connection
 * between the prefill and the decode worker; disaggregated requests are served, the KV bytes went
 * over tcp, and no transfer connection was refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
    ['--cluster', '--nats', NATS, '--redis', REDIS, '--model', modelDir, '--served-model-name', MODEL, '--prefill-text', '1', '--decode-text', '1', '--cluster-name', CLUSTER],
    // UCX fails to initialize in every child: the workers use the tcp transfer backend.
    { TANDEM_CLUSTER_SECRET_FILE: '', TANDEM_INSECURE: '', UCX_TLS: 'no-such-transport', UCX_LOG_LEVEL: 'fatal' },
    120_000,
  );
}, 180_000);

afterAll(async () => {
  if (process.env.TANDEM_TEST_DUMP) process.stderr.write(cluster?.output() ?? '');
  await cluster?.stop();
});

describe('tandem up --cluster on the tcp transfer backend', () => {
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
});
