/**
 * Router and worker metrics ports behind a key, as `tandem up --cluster --metrics-api-key-file`
 * starts them (separate processes, real NATS and Redis): every /metrics the cluster prints —
 * router, prefill and decode workers, gateway — answers 401 (the catalogue's invalid_api_key)
 * without the key or with a wrong one and Prometheus text with it; /health stays open for probes;
 * the router's and workers' metrics ports bind --metrics-host (127.0.0.2 here, their gRPC staying
 * on 127.0.0.1); and the key is on no child's command line (they get the file's path in their
 * environment). A `tandem router` on all interfaces (--host 0.0.0.0) keeps its metrics port on
 * TANDEM_METRICS_HOST=127.0.0.1.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTandemUp, type RunningCluster } from '../fixtures/cluster.js';
import { genTinyModel } from '../fixtures/models.js';

const MODEL = 'tiny-metrics';
const NATS = process.env.TANDEM_NATS_URL ?? 'nats://127.0.0.1:4222';
const REDIS = process.env.TANDEM_REDIS_URL ?? 'redis://127.0.0.1:6379';
const KEY = `metrics-${process.pid}-8f3a9c1d2e`;

let cluster: RunningCluster;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-metrics-key-'));
  const keyFile = join(dir, 'metrics-key');
  writeFileSync(keyFile, `${KEY}\n`, { mode: 0o600 });
  cluster = await startTandemUp(
    ['--cluster', '--insecure', '--nats', NATS, '--redis', REDIS, '--model', genTinyModel('ernie4_5', 7), '--served-model-name', MODEL, '--cluster-name', `metrics-access-${process.pid}`, '--metrics-api-key-file', keyFile, '--metrics-host', '127.0.0.2'],
    {},
    120_000,
  );
}, 180_000);

afterAll(async () => {
  if (process.env.TANDEM_TEST_DUMP) process.stderr.write(cluster?.output() ?? '');
  await cluster?.stop();
});

/** role → its printed /metrics URL, from `tandem up --cluster`'s process list. */
function printed(): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of cluster.output().matchAll(/^\s+(\S+)\s+pid \d+\s+(?:id \S+\s+)?(http:\/\/\S+\/metrics)/gm)) out.set(m[1]!, m[2]!);
  return out;
}

describe('metrics ports behind a key (tandem up --cluster --metrics-api-key-file)', () => {
  it('every printed /metrics refuses a scrape without the key or with a wrong one (401 invalid_api_key) and serves it with the key', async () => {
    const urls = printed();
    expect([...urls.keys()].sort()).toEqual(['decode-text-0', 'gateway', 'prefill-text-0', 'router']);
    for (const [role, url] of urls) {
      for (const headers of [{}, { authorization: 'Bearer not-the-key-at-all' }, { authorization: KEY }]) {
        const r = await fetch(url, { headers });
        expect(r.status, `${role} ${JSON.stringify(headers)}`).toBe(401);
        const body = (await r.json()) as { error: { code: string; type: string } };
        expect(body.error.code, role).toBe('invalid_api_key');
      }
      const ok = await fetch(url, { headers: { authorization: `Bearer ${KEY}` } });
      expect(ok.status, role).toBe(200);
      const text = await ok.text();
      expect(text, role).toMatch(/^# TYPE /m);
      if (role === 'router') expect(text).toMatch(/^tandem_router_requests_in_flight /m);
      if (role.startsWith('decode-text') || role.startsWith('prefill-text')) expect(text, role).toMatch(/^tandem_worker_kv_cache_blocks\{/m);
    }
  });

  it('/health stays open on the router and workers (probes); their metrics ports are on --metrics-host, their gRPC is not', async () => {
    for (const [role, url] of printed()) {
      if (role === 'gateway') continue;
      expect(new URL(url).hostname, role).toBe('127.0.0.2');
      expect(new RegExp(`${role}\\s+pid \\d+\\s+(?:id \\S+\\s+)?\\S+\\s+grpc 127\\.0\\.0\\.1:`).test(cluster.output()), role).toBe(true);
      const r = await fetch(url.replace(/\/metrics$/, '/health'));
      expect(r.status, role).toBe(200);
    }
  });

  it('the cluster serves requests, and the key is on no command line (ps) of any child', async () => {
    const client = new OpenAI({ baseURL: cluster.baseURL, apiKey: 'unused', maxRetries: 0 });
    const r = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hello' }], max_tokens: 4 });
    expect(r.choices[0]!.message).toBeDefined();
    const pids = [...cluster.output().matchAll(/^\s+\S+\s+pid (\d+)/gm)].map((m) => Number(m[1]));
    expect(pids.length).toBe(4);
    for (const pid of [cluster.proc.pid!, ...pids]) expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), String(pid)).not.toContain(KEY);
  });
});

describe('tandem router --host 0.0.0.0 with TANDEM_METRICS_HOST=127.0.0.1', () => {
  it('serves gRPC on every interface and its metrics on loopback only', async () => {
    const bin = join(import.meta.dirname, '..', '..', 'bin', 'tandem.js');
    const p = spawn(process.execPath, [bin, 'router', '--insecure', '--nats', NATS, '--redis', REDIS, '--host', '0.0.0.0', '--metrics-port', '0', '--cluster-name', `metrics-host-${process.pid}`], {
      env: { ...process.env, TANDEM_METRICS_HOST: '127.0.0.1', TANDEM_METRICS_API_KEY: KEY },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let out = '';
      const ready = await new Promise<{ grpc: string; metrics: string }>((resolve, reject) => {
        p.stdout!.on('data', (d) => {
          out += d;
          const line = out.split('\n').find((l) => l.startsWith('{'));
          if (line) resolve(JSON.parse(line) as { grpc: string; metrics: string });
        });
        p.once('exit', (code) => reject(new Error(`tandem router exited (${code})`)));
      });
      expect(ready.grpc).toMatch(/^0\.0\.0\.0:\d+$/);
      expect(new URL(ready.metrics).hostname).toBe('127.0.0.1');
      expect((await fetch(ready.metrics)).status).toBe(401);
      expect((await fetch(ready.metrics, { headers: { authorization: `Bearer ${KEY}` } })).status).toBe(200);
    } finally {
      p.kill('SIGTERM');
    }
  }, 30_000);
});
