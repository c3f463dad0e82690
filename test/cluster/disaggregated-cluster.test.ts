/**
 * Multi-process clusters started by `tandem up --cluster` (router, workers, gateway — separate
 * processes, real NATS and Redis), driven through the `openai` client: greedy outputs
 * bit-identical to unified mode; a client disconnect frees the decode worker's KV; a killed
 * prefill worker's requests are retried on another with unchanged outputs.
 */
import { Redis } from 'ioredis';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricValue, settledHistory, startTandemUp, type RunningCluster } from '../fixtures/cluster.js';
import { genTinyModel } from '../fixtures/models.js';

const MODEL = 'tiny';
const NATS = process.env.TANDEM_NATS_URL ?? 'nats://127.0.0.1:4222';
const REDIS = process.env.TANDEM_REDIS_URL ?? 'redis://127.0.0.1:6379';
let modelDir: string;
let unified: RunningCluster;
let cluster: RunningCluster;

const words = ['alpha', 'beta', 'gamma', 'delta', 'tandem', 'prefill', 'decode', '你好', 'kv', 'cache', 'router', 'worker'];
const shared = Array.from({ length: 30 }, (_, j) => words[(j * 5) % words.length]).join(' ');
const prompts = Array.from({ length: 20 }, (_, i) => {
  const own = Array.from({ length: 3 + ((i * 13) % 40) }, (_, j) => words[(i + j * 7) % words.length]).join(' ');
  return i % 3 === 0 ? `${shared} ${own}` : own;
});

async function greedyAll(c: RunningCluster): Promise<string[]> {
  const client = new OpenAI({ baseURL: c.baseURL, apiKey: 'x' });
  const out: string[] = [];
  for (const p of prompts) {
    const r = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: p }], max_tokens: 16, temperature: 0 });
    out.push(r.choices[0]!.message.content ?? '');
  }
  return out;
}

// One file on purpose: two clusters on the same NATS would see each other's workers in the
// registry, so the clusters here run one after the other.
// Long prompts (well over the 32-token local-prefill threshold) so every request is disaggregated.
const longPrompts = Array.from({ length: 6 }, (_, i) => Array.from({ length: 40 }, (_, j) => `w${(i * 31 + j * 7) % 97}`).join(' '));

async function greedyOne(c: RunningCluster, content: string): Promise<string> {
  const r = await new OpenAI({ baseURL: c.baseURL, apiKey: 'x' }).chat.completions.create({ model: MODEL, messages: [{ role: 'user', content }], max_tokens: 12, temperature: 0 });
  return r.choices[0]!.message.content ?? '';
}

/** A worker's KV usage once it reached 0 or `withinMs` passed, polling its /metrics. */
async function kvUsageAfter(metrics: string, withinMs: number): Promise<number> {
  const t0 = Date.now();
  let usage = 1;
  while (Date.now() - t0 < withinMs && usage > 0) {
    await new Promise((r) => setTimeout(r, 25));
    usage = metricValue(await (await fetch(metrics)).text(), 'tandem_worker_kv_cache_usage_perc');
  }
  return usage;
}

function metricsUrl(role: string): string {
  return new RegExp(`${role}\\s+pid \\d+\\s+(?:id \\S+\\s+)?(http:\\S+/metrics)`).exec(cluster.output())![1]!;
}

beforeAll(async () => {
  modelDir = genTinyModel('ernie4_5', 3);
  unified = await startTandemUp(['--mode', 'unified', '--model', modelDir, '--served-model-name', MODEL]);
}, 180_000);
afterAll(async () => {
  await unified?.stop();
});

describe('disaggregated cluster (separate processes, real NATS and Redis)', () => {
  beforeAll(async () => {
    // --shared-admission: the admission count in Redis shifts the timing of the cancel storm below
    // (it once exposed a Decode call cancelled before the worker's handler ran).
    cluster = await startTandemUp(['--cluster', '--nats', NATS, '--redis', REDIS, '--model', modelDir, '--served-model-name', MODEL, '--prefill-text', '1', '--decode-text', '1', '--shared-admission'], {}, 120_000);
  }, 180_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it('prints every process with its role, pid and metrics URL', () => {
    for (const role of ['router', 'prefill-text-0', 'decode-text-0', 'gateway']) expect(cluster.output()).toMatch(new RegExp(`${role}\\s+pid \\d+`));
  });

  it('20 prompts (varied lengths, some sharing prefixes) give greedy outputs bit-identical to unified mode', async () => {
    const expected = await greedyAll(unified);
    const got = await greedyAll(cluster);
    expect(got).toEqual(expected);
  });

  it('a fresh long prompt moves exactly its KV blocks over UCX (all layers, K and V)', async () => {
    const prefillMetrics = /prefill-text-0\s+pid \d+\s+(?:id \S+\s+)?(http:\S+\/metrics)/.exec(cluster.output())![1]!;
    const bytes = async () => Number(/tandem_kv_transfer_bytes_total\{backend="ucx"\} (\d+)/.exec(await (await fetch(prefillMetrics)).text())?.[1] ?? 0);
    const before = await bytes();
    const fresh = Array.from({ length: 60 }, (_, j) => `fresh${j}`).join(' ');
    const r = await new OpenAI({ baseURL: cluster.baseURL, apiKey: 'x' }).chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: fresh }], max_tokens: 2, temperature: 0 });
    expect(r.usage!.prompt_tokens_details?.cached_tokens ?? 0).toBe(0);
    // tiny model: 4 layers x (K + V) x 16 slots x 2 KV heads x 16 dims x 2 bytes (bf16) per block.
    const blockBytes = 4 * 2 * 16 * 2 * 16 * 2;
    expect((await bytes()) - before).toBe(Math.ceil(r.usage!.prompt_tokens / 16) * blockBytes);
  });

  it('KV moved between the pools (transfer bytes counted by backend) and Redis recorded the staged path', async () => {
    const prefillMetrics = /prefill-text-0\s+pid \d+\s+(?:id \S+\s+)?(http:\S+\/metrics)/.exec(cluster.output())![1]!;
    const text = await (await fetch(prefillMetrics)).text();
    const m = /tandem_kv_transfer_bytes_total\{backend="(ucx|tcp|local)"\} (\d+)/.exec(text);
    expect(m).not.toBeNull();
    expect(Number(m![2])).toBeGreaterThan(0);
    const redis = new Redis(REDIS);
    const keys = await redis.keys('tandem:seq:chatcmpl-*');
    const histories = await Promise.all(keys.filter((k) => !k.endsWith(':tokens') && !k.endsWith(':request')).map((k) => redis.hget(k, 'history')));
    await redis.quit();
    // queued → prefilling → transferring → decoding → finished, for the long prompts.
    expect(histories).toContain('qptdf');
  });
});

describe('cluster failure handling (2 prefill-text, 1 decode-text)', () => {
  beforeAll(async () => {
    cluster = await startTandemUp(['--cluster', '--nats', NATS, '--redis', REDIS, '--model', modelDir, '--served-model-name', MODEL, '--prefill-text', '2', '--decode-text', '1'], {}, 120_000);
  }, 180_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it('a client disconnect mid-stream frees the decode worker\'s KV blocks within a second', async () => {
    const ac = new AbortController();
    const res = await fetch(`${cluster.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: longPrompts[0] }], max_tokens: 3000, ignore_eos: true, stream: true }),
      signal: ac.signal,
    });
    const reader = res.body!.getReader();
    let got = '';
    while ((got.match(/data: /g) ?? []).length < 20) got += new TextDecoder().decode((await reader.read()).value);
    const decode = metricsUrl('decode-text-0');
    expect(metricValue(await (await fetch(decode)).text(), 'tandem_worker_kv_cache_usage_perc')).toBeGreaterThan(0);
    ac.abort();
    expect(await kvUsageAfter(decode, 1000)).toBe(0);
    // The prefill workers hold nothing either (they release their blocks after each push).
    for (const role of ['prefill-text-0', 'prefill-text-1']) {
      expect(metricValue(await (await fetch(metricsUrl(role))).text(), 'tandem_worker_kv_cache_usage_perc')).toBe(0);
    }
  });

  it('a cancel storm (24 streams aborted at random points) leaves no reserved KV block a second later', async () => {
    const decode = metricsUrl('decode-text-0');
    const storm = Array.from({ length: 24 }, async (_, i) => {
      const ac = new AbortController();
      // Aborts spread over the reservation, the prefill, the hand-over and the decode.
      setTimeout(() => ac.abort(), (i * 37) % 400);
      try {
        const res = await fetch(`${cluster.baseURL}/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: `${longPrompts[i % longPrompts.length]} storm ${i}` }], max_tokens: 2000, ignore_eos: true, stream: true }),
          signal: ac.signal,
        });
        const reader = res.body!.getReader();
        for (;;) if ((await reader.read()).done) break;
      } catch {
        // aborted, as intended
      }
    });
    await Promise.all(storm);
    expect(await kvUsageAfter(decode, 1000)).toBe(0);
  });

  it('killing a prefill worker: its requests are retried on the other one, outputs unchanged', async () => {
    // Prompts no earlier test sent: a prefix cached on one worker (the cancel storm's prompts start
    // with longPrompts) would make the router prefer that worker whatever its id.
    const prompts = longPrompts.map((p) => `retry ${p}`);
    const expected: string[] = [];
    for (const p of prompts) expected.push(await greedyOne(unified, p));
    // Kill the prefill worker the router tries first (equal cost: no cached prefix, equal load; the lowest id).
    const prefill = [...cluster.output().matchAll(/prefill-text-\d+\s+pid (\d+)\s+id (\S+)/g)].map((m) => ({ pid: Number(m[1]), id: m[2]! }));
    expect(prefill).toHaveLength(2);
    const victim = prefill.sort((a, b) => a.id.localeCompare(b.id))[0]!;
    process.kill(victim.pid, 'SIGKILL');
    // The registry still lists the dead worker for a few seconds: the router must route around it.
    const got = await Promise.all(prompts.map((p) => greedyOne(cluster, p)));
    expect(got).toEqual(expected);
    // Redis recorded the retry: prefilling → prefilling (attempt 2) on the surviving worker.
    const redis = new Redis(REDIS);
    const keys = (await redis.keys('tandem:seq:chatcmpl-*')).filter((k) => !k.endsWith(':tokens') && !k.endsWith(':request'));
    const histories = await Promise.all(keys.map((k) => redis.hget(k, 'history')));
    await redis.quit();
    expect(histories).toContain('qpptdf');
  });

  it('the only decode worker killed: tandem up restarts it and the cluster serves again', async () => {
    const pid = Number(/decode-text-0\s+pid (\d+)/.exec(cluster.output())![1]);
    process.kill(pid, 'SIGKILL');
    const t0 = Date.now();
    while (!/restarted decode-text-0: pid \d+/.test(cluster.output())) {
      if (Date.now() - t0 > 60_000) throw new Error(`decode-text-0 was not restarted:\n${cluster.output().slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const fresh = Number(/restarted decode-text-0: pid (\d+)/.exec(cluster.output())![1]);
    expect(fresh).not.toBe(pid);
    // The new worker registers within its first heartbeat; requests then succeed end to end.
    let ok = false;
    for (let i = 0; i < 60 && !ok; i++) {
      ok = await greedyOne(cluster, longPrompts[0]!).then(() => true, () => false);
      if (!ok) await new Promise((r) => setTimeout(r, 500));
    }
    expect(ok).toBe(true);
  });
});

describe('a prefill worker killed mid-prefill (2 prefill-text, 1 decode-text, slowed steps)', () => {
  // Every engine step pauses 250 ms (fault injection) and prefill runs in 16-token chunks, so a
  // 70-token prompt spends over a second in prefill, pushing KV layer by layer as it goes.
  beforeAll(async () => {
    cluster = await startTandemUp(
      ['--cluster', '--nats', NATS, '--redis', REDIS, '--model', modelDir, '--served-model-name', MODEL, '--prefill-text', '2', '--decode-text', '1', '--max-batch-tokens', '16', '--cluster-name', `midprefill-${process.pid}`],
      { TANDEM_FAULT_STEP_DELAY_MS: '250', TANDEM_LEASE_MS: '6000' },
      120_000,
    );
  }, 180_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it('completes on the other prefill worker; the first reservation returns to the pool at lease expiry', async () => {
    const prompt = Array.from({ length: 40 }, (_, j) => `m${(j * 11) % 89}`).join(' ');
    const expected = await greedyOne(unified, prompt);
    expect(expected.length).toBeGreaterThan(0);
    const prefill = [...cluster.output().matchAll(/prefill-text-\d+\s+pid (\d+)\s+id (\S+)/g)].map((m) => ({ pid: Number(m[1]), id: m[2]! }));
    expect(prefill).toHaveLength(2);
    const redis = new Redis(REDIS);
    try {
      const answer = greedyOne(cluster, prompt);
      // Find the sequence while it is prefilling on one of this cluster's prefill workers.
      let victim: { pid: number; id: string } | undefined;
      let seqKey = '';
      for (let i = 0; i < 200 && !victim; i++) {
        for (const id of await redis.zrange('tandem:seq:active', 0, -1)) {
          const h = await redis.hgetall(`tandem:seq:${id}`);
          const p = prefill.find((w) => w.id === h['w:prefill']);
          if (h.state === 'prefilling' && p) {
            victim = p;
            seqKey = `tandem:seq:${id}`;
          }
        }
        if (!victim) await new Promise((r) => setTimeout(r, 20));
      }
      expect(victim).toBeDefined();
      // Let the first chunk or two compute and push, then kill the worker in the middle.
      await new Promise((r) => setTimeout(r, 450));
      expect(await redis.hget(seqKey, 'state')).toBe('prefilling');
      process.kill(victim!.pid, 'SIGKILL');
      expect(await answer).toBe(expected);
      expect(await settledHistory(redis, seqKey)).toBe('qpptdf');
      expect(await redis.hget(seqKey, 'w:prefill')).not.toBe(victim!.id);
    } finally {
      await redis.quit();
    }
    // The abandoned first reservation is still leased on the decode worker, then expires.
    const decode = metricsUrl('decode-text-0');
    const metrics = async () => await (await fetch(decode)).text();
    const t0 = Date.now();
    let m = await metrics();
    while (Date.now() - t0 < 12_000 && metricValue(m, 'tandem_worker_kv_leases_expired_total') < 1) {
      await new Promise((r) => setTimeout(r, 100));
      m = await metrics();
    }
    expect(metricValue(m, 'tandem_worker_kv_leases_expired_total')).toBe(1);
    expect(metricValue(m, 'tandem_worker_kv_leases')).toBe(0);
    expect(metricValue(m, 'tandem_worker_kv_cache_usage_perc')).toBe(0);
  });
});

describe('a decode worker killed mid-stream (1 prefill-text, 2 decode-text, slowed steps)', () => {
  beforeAll(async () => {
    cluster = await startTandemUp(
      ['--cluster', '--nats', NATS, '--redis', REDIS, '--model', modelDir, '--served-model-name', MODEL, '--prefill-text', '1', '--decode-text', '2', '--cluster-name', `migrate-${process.pid}`],
      { TANDEM_FAULT_STEP_DELAY_MS: '40' },
      120_000,
    );
  }, 180_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  async function streamTokens(c: RunningCluster, onToken?: (n: number) => Promise<void>): Promise<{ id: string; tokens: string[] }> {
    const stream = await new OpenAI({ baseURL: c.baseURL, apiKey: 'x' }).chat.completions.create({
      model: MODEL, messages: [{ role: 'user', content: longPrompts[2]! }], max_tokens: 48, temperature: 0, logprobs: true, stream: true,
      // @ts-expect-error Tandem extension (vLLM-style): generate exactly max_tokens.
      ignore_eos: true,
    });
    const tokens: string[] = [];
    let id = '';
    for await (const chunk of stream) {
      id = chunk.id;
      for (const t of chunk.choices[0]?.logprobs?.content ?? []) {
        tokens.push(t.token);
        await onToken?.(tokens.length);
      }
    }
    return { id, tokens };
  }

  it('the stream continues on the other decode worker: no duplicate, no missing token', async () => {
    const expected = await streamTokens(unified);
    expect(expected.tokens).toHaveLength(48);
    const decoders = [...cluster.output().matchAll(/decode-text-\d+\s+pid (\d+)\s+id (\S+)/g)].map((m) => ({ pid: Number(m[1]), id: m[2]! }));
    expect(decoders).toHaveLength(2);
    const redis = new Redis(REDIS);
    let victim: { pid: number; id: string } | undefined;
    try {
      const got = await streamTokens(cluster, async (n) => {
        if (n !== 10 || victim) return;
        for (const id of await redis.zrange('tandem:seq:active', 0, -1)) {
          const serving = await redis.hget(`tandem:seq:${id}`, 'w:decode');
          const d = decoders.find((w) => w.id === serving);
          if (d) victim = d;
        }
        process.kill(victim!.pid, 'SIGKILL');
      });
      expect(victim).toBeDefined();
      expect(got.tokens).toEqual(expected.tokens);
      const key = `tandem:seq:${got.id}-0`;
      expect(await settledHistory(redis, key)).toBe('qptdpdf');
      expect(await redis.hget(key, 'w:decode')).not.toBe(victim!.id);
      // Generated tokens were checkpointed (every 32 and at the migration), not written per token.
      expect((await redis.strlen(`${key}:tokens`)) / 4).toBeGreaterThanOrEqual(10);
    } finally {
      await redis.quit();
    }
  });

  it('a frozen decode worker (SIGSTOP) is given up within seconds: the stream migrates, no duplicate, no missing token', async () => {
    // A worker killed by the test above is restarted by tandem up; wait until it is back.
    const t0 = Date.now();
    while (/decode-text-\d+ \(pid \d+\) exited/.test(cluster.output()) && !/restarted decode-text-\d+: pid \d+/.test(cluster.output())) {
      if (Date.now() - t0 > 60_000) throw new Error('the killed decode worker was not restarted');
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 2500));
    const workers = [
      ...[...cluster.output().matchAll(/decode-text-\d+\s+pid (\d+)\s+id (\S+)/g)],
      ...[...cluster.output().matchAll(/restarted decode-text-\d+: pid (\d+) id (\S+)/g)],
    ].map((m) => ({ pid: Number(m[1]), id: m[2]! }));
    const expected = await streamTokens(unified);
    const redis = new Redis(REDIS);
    let victim: { pid: number; id: string } | undefined;
    let lastAt = Date.now();
    let longestGapMs = 0;
    try {
      const got = await streamTokens(cluster, async (n) => {
        const now = Date.now();
        if (n > 1) longestGapMs = Math.max(longestGapMs, now - lastAt);
        lastAt = now;
        if (n !== 10 || victim) return;
        for (const id of await redis.zrange('tandem:seq:active', 0, -1)) {
          const serving = await redis.hget(`tandem:seq:${id}`, 'w:decode');
          victim = workers.find((w) => w.id === serving) ?? victim;
        }
        process.kill(victim!.pid, 'SIGSTOP');
      });
      expect(victim).toBeDefined();
      expect(got.tokens).toEqual(expected.tokens);
      // Heartbeat silence (2.5 s) and no tokens (1.5 s) give it up; then a re-prefill elsewhere.
      process.stderr.write(`[frozen decode worker] longest gap between tokens: ${longestGapMs} ms\n`);
      expect(longestGapMs).toBeLessThan(5000);
    } finally {
      if (victim) process.kill(victim.pid, 'SIGCONT');
      await redis.quit();
    }
  });
});
