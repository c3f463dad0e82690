/**
 * Drill: NATS killed (-9) while 16 greedy streams run through a `tandem up --cluster` (router,
 * prefill-text, decode-text, gateway) on a private NATS and Redis: once started again at once on
 * its store, once after 7 s down with its JetStream store gone (the registry bucket with it).
 * NATS carries the registry and the KV-reservation handshake, not the token streams: every
 * stream must complete, identical to an undisturbed run; the workers register again (in the
 * recreated bucket), and new requests are served within a few seconds. Each drill prints one
 * JSON line of figures.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBus } from '../../services/bus/index.js';
import { registryBucket, REGISTRY_TTL_MS } from '../../services/protocol/registry.js';
import { compare, counterSum, drill, MODEL, PROMPTS, routerMetricsUrl, startDrillCluster, undisturbed, type DrillCluster, type Streamed } from './drill.js';

let c: DrillCluster;

beforeAll(async () => {
  c = await startDrillCluster('nats');
}, 120_000);
afterAll(async () => {
  await c?.stop();
});

/** Worker ids in the cluster's registry bucket (keys only: records may be sealed). */
async function registeredWorkers(natsUrl: string, cluster: string): Promise<string[]> {
  const bus = await createBus(natsUrl, { connectTimeoutMs: 2000 });
  try {
    return await (await bus.keyValue(registryBucket(cluster), { ttlMs: REGISTRY_TTL_MS })).keys();
  } finally {
    await bus.close();
  }
}

/** A new long-prompt request (prefilled on the prefill worker, reserved over NATS) until one is answered. */
async function firstServed(baseURL: string, since: number, timeoutMs: number): Promise<{ ms: number; failedProbes: string[] }> {
  const client = new OpenAI({ baseURL, apiKey: 'x', maxRetries: 0, timeout: 10_000 });
  const failedProbes: string[] = [];
  for (;;) {
    try {
      await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: PROMPTS[1]! }], max_tokens: 2, temperature: 0 });
      return { ms: Date.now() - since, failedProbes };
    } catch (e) {
      failedProbes.push((e as Error).message);
      if (Date.now() - since > timeoutMs) return { ms: -1, failedProbes };
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

interface NatsDrill {
  outageMs: number;
  /** Start the server again without its JetStream store (the registry bucket is lost). */
  wipe: boolean;
}

let expected: Streamed[] | undefined;

async function natsDrill({ outageMs, wipe }: NatsDrill): Promise<void> {
  expected ??= await undisturbed(c.cluster.baseURL);
  expect(expected.every((e) => e.error === undefined)).toBe(true);
  const before = await registeredWorkers(c.nats.url, c.name);
  expect(before).toHaveLength(2);
  const fallbacksBefore = counterSum(await (await fetch(routerMetricsUrl(c.cluster))).text(), 'tandem_router_bus_fallbacks_total');
  const { streams, faultResult } = await drill(c.cluster.baseURL, async () => {
    const killedAt = Date.now();
    await c.nats.kill();
    await new Promise((r) => setTimeout(r, outageMs));
    if (wipe) c.nats.wipeStore();
    await c.nats.launch();
    const backAt = Date.now();
    const served = await firstServed(c.cluster.baseURL, backAt, 15_000);
    return { killedAt, backAt, served };
  });
  // Both workers are back in the (recreated) bucket.
  let registered: string[] = [];
  for (const t0 = Date.now(); Date.now() - t0 < 5000; ) {
    registered = await registeredWorkers(c.nats.url, c.name);
    if (registered.length === before.length) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const figures = compare(expected, streams);
  const metrics = await (await fetch(routerMetricsUrl(c.cluster))).text();
  process.stdout.write(
    `${JSON.stringify({
      drill: wipe ? 'nats-restart-empty-store' : 'nats-restart-same-store',
      streams: streams.length,
      completed: figures.completed,
      identical: figures.identical,
      failed: figures.failed,
      outage_ms: faultResult.backAt - faultResult.killedAt,
      recovery_ms: faultResult.served.ms,
      failed_probes: faultResult.served.failedProbes.length,
      workers_registered: registered.length,
      local_prefill_fallbacks: counterSum(metrics, 'tandem_router_bus_fallbacks_total') - fallbacksBefore,
      errors: [...figures.errors, ...faultResult.served.failedProbes.slice(0, 3)],
    })}\n`,
  );
  expect(figures.errors).toEqual([]);
  expect(figures.identical).toBe(streams.length);
  expect(registered.sort()).toEqual(before.sort());
  expect(faultResult.served.failedProbes).toEqual([]);
  expect(faultResult.served.ms).toBeGreaterThanOrEqual(0);
  expect(faultResult.served.ms).toBeLessThan(5000);
}

describe('chaos: NATS killed under 16 streams', () => {
  it('restarted at once on its store: no request lost, outputs identical, new requests served', () => natsDrill({ outageMs: 500, wipe: false }), 60_000);

  it('down 7 s (past request timeouts and the registry TTL), back with an empty store: no request lost; workers re-register in the recreated bucket', () => natsDrill({ outageMs: Number(process.env.CHAOS_OUTAGE_MS ?? 7000), wipe: true }), 60_000);
});
