/**
 * Drill: Redis killed (-9) and started again with no data while 16 greedy streams run through a
 * `tandem up --cluster` (router, prefill-text, decode-text, gateway) on a private Redis and NATS.
 * Redis holds only the sequence records, written beside the requests, never in front of them:
 * every stream must complete, identical to an undisturbed run, and requests after the restart
 * must get their records again; the records of requests that ran across the outage are written
 * again by the router (so they stay resumable). Prints one JSON line of figures.
 */
import { clusterRssMb } from '../fixtures/process-rss.js';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { settledHistory } from '../fixtures/cluster.js';
import { rawCommand } from '../fixtures/redis-test-server.js';
import { compare, counterSum, decodeKvUsageAfter, drill, routerMetricsUrl, startDrillCluster, streamOne, undisturbed, type DrillCluster, PROMPTS } from './drill.js';

const OUTAGE_MS = Number(process.env.CHAOS_OUTAGE_MS ?? 600);
let c: DrillCluster;

beforeAll(async () => {
  c = await startDrillCluster('redis');
}, 120_000);
afterAll(async () => {
  await c?.stop();
});

async function redisPid(port: number): Promise<number> {
  const info = await rawCommand(port, ['INFO', 'server']);
  return Number(/process_id:(\d+)/.exec(info)![1]);
}

async function waitFor(pred: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('chaos: Redis restarted with empty data under 16 streams', () => {
  it('loses no request, outputs identical, records written again after the restart', async () => {
    const expected = await undisturbed(c.cluster.baseURL);
    expect(expected.every((e) => e.error === undefined)).toBe(true);
    const redis = new Redis(c.redis.url, { lazyConnect: true, maxRetriesPerRequest: null, retryStrategy: () => 50 });
    redis.on('error', () => undefined);
    try {
      const pid = await redisPid(c.redis.port);
      const rssBefore = clusterRssMb(c.cluster.output());
      const { streams, faultResult } = await drill(c.cluster.baseURL, async () => {
        const killedAt = Date.now();
        process.kill(pid, 'SIGKILL');
        await new Promise((r) => setTimeout(r, OUTAGE_MS));
        // No dump was ever saved (--save ''): the server comes back empty.
        await c.redis.launch();
        const backAt = Date.now();
        // Recovery: the router's first write lands in the new, empty Redis.
        await waitFor(async () => (await redis.dbsize()) > 0, 10_000, 'a write to the restarted Redis');
        return { killedAt, backAt, recoveryMs: Date.now() - backAt };
        // Six streams are running when Redis dies, the next ones start while it is away.
      }, 6);
      const figures = compare(expected, streams);
      // Streams that started once Redis was back have their full record.
      const after = streams.filter((s) => s.startedAtMs > faultResult.backAt && s.id !== '');
      const histories = await Promise.all(after.map((s) => settledHistory(redis, `tandem:seq:${s.id}-0`)));
      const recorded = histories.filter((h) => h === 'qptdf' || h === 'qdf').length;
      // Streams that ran across the outage: the router wrote their lost records again (its own
      // create, transitions and checkpoints replayed), so they could still be resumed.
      const across = streams.filter((s) => s.startedAtMs < faultResult.killedAt && s.endedAtMs > faultResult.backAt);
      const rebuilt = await Promise.all(
        across.map(async (s) => {
          const key = `tandem:seq:${s.id}-0`;
          const history = await settledHistory(redis, key);
          const tokens = (await redis.strlen(`${key}:tokens`)) / 4;
          return (history === 'qptdf' || history === 'qdf') && tokens === 32 && (await redis.exists(`${key}:request`)) === 1;
        }),
      );
      // Serving goes on, and a new request is recorded from its start to its end.
      const fresh = await streamOne(c.cluster.baseURL, PROMPTS[0]!);
      const freshHistory = await settledHistory(redis, `tandem:seq:${fresh.id}-0`);
      const metrics = await (await fetch(routerMetricsUrl(c.cluster))).text();
      const kvUsage = await decodeKvUsageAfter(c.cluster, 2000);
      process.stdout.write(
        `${JSON.stringify({
          drill: 'redis-restart-empty',
          streams: streams.length,
          completed: figures.completed,
          identical: figures.identical,
          failed: figures.failed,
          outage_ms: faultResult.backAt - faultResult.killedAt,
          recovery_ms: faultResult.recoveryMs,
          started_after_restart: after.length,
          recorded_after_restart: recorded,
          ran_across_outage: across.length,
          records_rebuilt: rebuilt.filter(Boolean).length,
          state_rebuilds: counterSum(metrics, 'tandem_router_state_rebuilds_total'),
          state_write_errors: counterSum(metrics, 'tandem_router_state_write_errors_total'),
          decode_kv_usage_2s_after: kvUsage,
          rss_mb_before: rssBefore,
          rss_mb_after: clusterRssMb(c.cluster.output()),
          errors: figures.errors,
        })}\n`,
      );
      expect(figures.errors).toEqual([]);
      expect(figures.identical).toBe(streams.length);
      expect(fresh.error).toBeUndefined();
      expect(fresh.tokens).toEqual(expected[0]!.tokens);
      expect(freshHistory).toBe('qptdf');
      expect(recorded).toBe(after.length);
      expect(across.length).toBeGreaterThan(0);
      expect(rebuilt.filter(Boolean).length).toBe(across.length);
      expect(kvUsage).toBe(0);
      expect(faultResult.recoveryMs).toBeLessThan(3000);
    } finally {
      redis.disconnect();
    }
  }, 90_000);
});
