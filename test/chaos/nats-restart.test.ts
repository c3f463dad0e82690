/**
 * Drill: NATS killed (-9) while 16 greedy streams run through a `tandem up --cluster` (router,
 * prefill-text, decode-text, gateway) on a private NATS and Redis: once started again at once on
 * its store, once after 7 s down with its JetStream store gone (the registry bucket with it).
 * NATS carries the registry and the KV-reservation handshake, not the token streams: every
 * stream must complete, identical to an undisturbed run; the workers register again (in the
 * recreated bucket), and new requests are served within a few seconds. Each drill prints one
 * JSON line of figures.
 */
import { clusterRssMb } from '../fixtures/process-rss.js';
import { Redis } from 'ioredis';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBus } from '../../services/bus/index.js';
import { settledHistory } from '../fixtures/cluster.js';
import { registryBucket, REGISTRY_TTL_MS } from '../../services/protocol/registry.js';
import { compare, counterSum, decodeKvUsageAfter, drill, MODEL, PROMPTS, routerMetricsUrl, startDrillCluster, undisturbed, type DrillCluster, type Streamed } from './drill.js';

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

interface Probed {
  /** Ms from the restart to the first new request answered (however it was run). */
  servedMs: number;
  /** Ms from the restart to the first new request run disaggregated again (registry and KV handshake over NATS back). */
  recoveryMs: number;
  failedProbes: string[];
}

/**
 * New long-prompt requests, one after another from the restart on, until one ran disaggregated
 * again (its record went queued → prefilling → transferring → decoding → finished: reserved over
 * NATS, prefilled on the prefill worker); while NATS is not usable the router has the decode
 * worker prefill locally (record queued → decoding → finished).
 */
async function probeUntilRecovered(c: DrillCluster, since: number, timeoutMs: number): Promise<Probed> {
  const client = new OpenAI({ baseURL: c.cluster.baseURL, apiKey: 'x', maxRetries: 0, timeout: 10_000 });
  const redis = new Redis(c.redis.url, { lazyConnect: true });
  const out: Probed = { servedMs: -1, recoveryMs: -1, failedProbes: [] };
  try {
    while (Date.now() - since < timeoutMs) {
      try {
        const r = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: PROMPTS[1]! }], max_tokens: 2, temperature: 0 });
        const at = Date.now() - since;
        if (out.servedMs < 0) out.servedMs = at;
        if ((await settledHistory(redis, `tandem:seq:${r.id}-0`)) === 'qptdf') {
          out.recoveryMs = at;
          break;
        }
      } catch (e) {
        out.failedProbes.push((e as Error).message);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    redis.disconnect();
  }
  return out;
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
  const rssBefore = clusterRssMb(c.cluster.output());
  const { streams, faultResult } = await drill(c.cluster.baseURL, async () => {
    const killedAt = Date.now();
    await c.nats.kill();
    await new Promise((r) => setTimeout(r, outageMs));
    if (wipe) c.nats.wipeStore();
    await c.nats.launch();
    const backAt = Date.now();
    const served = await probeUntilRecovered(c, backAt, 15_000);
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
  const kvUsage = await decodeKvUsageAfter(c.cluster, 2000);
  process.stdout.write(
    `${JSON.stringify({
      drill: wipe ? 'nats-restart-empty-store' : 'nats-restart-same-store',
      streams: streams.length,
      completed: figures.completed,
      identical: figures.identical,
      failed: figures.failed,
      outage_ms: faultResult.backAt - faultResult.killedAt,
      first_served_ms: faultResult.served.servedMs,
      recovery_ms: faultResult.served.recoveryMs,
      failed_probes: faultResult.served.failedProbes.length,
      workers_registered: registered.length,
      local_prefill_fallbacks: counterSum(metrics, 'tandem_router_bus_fallbacks_total') - fallbacksBefore,
      decode_kv_usage_2s_after: kvUsage,
      rss_mb_before: rssBefore,
      rss_mb_after: clusterRssMb(c.cluster.output()),
      errors: [...figures.errors, ...faultResult.served.failedProbes.slice(0, 3)],
    })}\n`,
  );
  expect(figures.errors).toEqual([]);
  expect(figures.identical).toBe(streams.length);
  expect(registered.sort()).toEqual(before.sort());
  expect(faultResult.served.failedProbes).toEqual([]);
  expect(faultResult.served.recoveryMs).toBeGreaterThanOrEqual(0);
  expect(faultResult.served.recoveryMs).toBeLessThan(5000);
}

describe('chaos: NATS killed under 16 streams', () => {
  it('restarted at once on its store: no request lost, outputs identical, new requests served', () => natsDrill({ outageMs: 500, wipe: false }), 60_000);

  it('down 7 s (past request timeouts and the registry TTL), back with an empty store: no request lost; workers re-register in the recreated bucket', () => natsDrill({ outageMs: Number(process.env.CHAOS_OUTAGE_MS ?? 7000), wipe: true }), 60_000);
});
