/**
 * The compose topology, run for real without containers: the Tandem services of
 * deploy/compose.yaml started as local processes with their own commands and environment
 * (native-compose.ts rewrites only hosts, ports and volumes) against a private nats-server and a
 * private redis-server run the way the compose `nats` and `redis` services run them:
 * deploy/nats/start.sh with deploy/nats/nats-server.conf, deploy/redis/start.sh, and the passwords
 * the `nats-credentials` / `redis-credentials` one-shots write (deploy/nats/gen-passwords.sh, into
 * the directories standing in for their volumes), so each component connects as its own NATS user
 * with only its own subject permissions, and the router and gateway as their own Redis users. The cluster has
 * its own name (unique TANDEM_CLUSTER). Chat completions through the gateway with the official
 * `openai` client must come back: a text one disaggregated across the prefill and decode pools,
 * and an image + text one whose image is encoded by the prefill-vision service.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import OpenAI from 'openai';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stopAll, type ClusterProcess } from '../../services/cli/cluster.js';
import { metricValue, settledHistory } from '../fixtures/cluster.js';
import { natsServerAvailable, TestNatsServer } from '../fixtures/nats-test-server.js';
import { redisServerAvailable, TestRedisServer } from '../fixtures/redis-test-server.js';
import { flags } from './cli-check.js';
import { metricNamesIn } from './code-facts.js';
import { adapterRules, dashboardQueries, ruleQueries } from './dashboards-and-rules.js';
import { freePorts, planNative, startNative, type NativeService } from './native-compose.js';
import { loadCompose, root } from './repo-files.js';

const compose = loadCompose();
const CLUSTER = `deploy-test-${randomUUID().slice(0, 8)}`;

let volumesDir: string;
let nats: TestNatsServer;
let redisServer: TestRedisServer;
let redisUrl: string;
let otlp: Server;
let services: NativeService[];
let ports: Map<string, number>;
const running: Array<ClusterProcess & { output: () => string }> = [];
const proc = (name: string) => running.find((p) => p.role === name)!;

/**
 * The compose `nats` service natively: its one-shot `nats-credentials` run (gen-passwords.sh with
 * each volume's directory), then start.sh with the compose command's config, reading the password
 * volumes where the container mounts them (`/run/nats-passwords/<component>` → a link to the volume's directory).
 */
async function startComposeNats(): Promise<TestNatsServer> {
  if (!natsServerAvailable()) throw new Error('nats-server not found (set NATS_SERVER_BIN or install nats-server; .ci/run does)');
  runCredentialsOneShot('nats-credentials');
  const svc = compose.services.nats!;
  const dir = (svc.volumes ?? []).find((v) => v.startsWith('./nats:'))!.split(':')[1]!;
  const command = svc.command!;
  const config = command[command.indexOf('-c') + 1]!.replace(dir, join(root, 'deploy', 'nats'));
  expect(svc.entrypoint).toEqual(['sh', `${dir}/start.sh`]);
  // TLS as compose runs it: --tls with the certificate `cluster-certs` wrote into the cluster-secret volume.
  const tls = command.slice(command.indexOf('--tls')).map((a) => inVolumeOf('nats', a));
  expect(tls[0]).toBe('--tls');
  return TestNatsServer.start({ config, args: tls, launcher: ['sh', join(root, 'deploy', 'nats', 'start.sh')], env: { TANDEM_NATS_PASSWORDS_DIR: passwordLinks('nats', '/run/nats-passwords/') } });
}

/** A path inside one of `service`'s named volumes, where the native run keeps that volume; other values unchanged. */
function inVolumeOf(service: string, value: string): string {
  for (const v of compose.services[service]!.volumes ?? []) {
    const [vol, target] = v.split(':');
    if (!vol!.startsWith('.') && value.startsWith(`${target}/`)) return join(volumesDir, vol!, value.slice(target!.length));
  }
  return value;
}

/**
 * The one-shots NATS needs before it starts (compose: depends_on): the cluster secret and the
 * certificates (`cluster-certs`), run natively into the volume directories. The later waves run
 * them again; with --if-absent they keep what is there.
 */
async function runCertificateOneShots(): Promise<void> {
  const { services: early } = await planNative(compose, { external: { 'nats:4222': 'tls://127.0.0.1:1', 'redis:6379': 'redis://127.0.0.1:1', 'otel-collector:4318': 'http://127.0.0.1:1' }, volumesDir });
  for (const name of ['cluster-secret', 'cluster-certs']) await startNative(early.find((x) => x.name === name)!);
}

/** Runs a credentials one-shot of compose (gen-passwords.sh into the directories standing in for its volumes). */
function runCredentialsOneShot(name: string): void {
  const volumeDir = (mount: string) => join(volumesDir, mount.split(':')[0]!);
  const creds = compose.services[name]!;
  const mounted = (creds.volumes ?? []).filter((v) => !v.startsWith('.'));
  for (const v of mounted) mkdirSync(volumeDir(v), { recursive: true });
  const args = creds.command!.map((a) => {
    const v = mounted.find((m) => m.split(':')[1] === a);
    if (!v) throw new Error(`${name} argument ${a} is no mounted volume`);
    return volumeDir(v);
  });
  execFileSync('sh', [join(root, 'deploy', 'nats', 'gen-passwords.sh'), ...args]);
}

/** A directory of links named as the service mounts its password volumes under `prefix` (`/run/x-passwords/<component>`). */
function passwordLinks(service: string, prefix: string): string {
  const links = join(volumesDir, `${service}-passwords`);
  mkdirSync(links);
  for (const v of compose.services[service]!.volumes ?? []) {
    const [vol, target] = v.split(':');
    if (target!.startsWith(prefix)) symlinkSync(join(volumesDir, vol!), join(links, target!.slice(prefix.length)));
  }
  return links;
}

/**
 * The compose `redis` service natively: its `redis-credentials` one-shot, then deploy/redis/start.sh
 * with the compose command's arguments and the password volumes where the container mounts them.
 */
async function startComposeRedis(): Promise<{ server: TestRedisServer; url: string }> {
  if (!redisServerAvailable()) throw new Error('redis-server not found (install redis-server; .ci/run does)');
  runCredentialsOneShot('redis-credentials');
  const svc = compose.services.redis!;
  const dir = (svc.volumes ?? []).find((v) => v.startsWith('./redis:'))!.split(':')[1]!;
  expect(svc.entrypoint).toEqual(['sh', `${dir}/start.sh`]);
  // The compose command as it is (TLS only, the cluster-certs certificate), but on a free port and
  // with the certificate files where the native run keeps the cluster-secret volume.
  const [tlsPort] = await freePorts(1);
  const args = svc.command!
    .filter((a, i, all) => !(a === '--save' || all[i - 1] === '--save' || a === '--appendonly' || all[i - 1] === '--appendonly'))
    .map((a, i, all) => (all[i - 1] === '--tls-port' ? String(tlsPort) : inVolumeOf('redis', a)));
  expect(args).toEqual(expect.arrayContaining(['--port', '0', '--tls-port']));
  const server = await TestRedisServer.start(args, {
    launcher: ['sh', join(root, 'deploy', 'redis', 'start.sh')],
    env: { TANDEM_REDIS_PASSWORDS_DIR: passwordLinks('redis', '/run/redis-passwords/'), TANDEM_REDIS_ACL_FILE: join(volumesDir, 'redis-acl', 'users.acl') },
  });
  return { server, url: `rediss://127.0.0.1:${tlsPort}` };
}

beforeAll(async () => {
  volumesDir = mkdtempSync(join(tmpdir(), 'tandem-compose-'));
  await runCertificateOneShots();
  nats = await startComposeNats();
  ({ server: redisServer, url: redisUrl } = await startComposeRedis());
  // Stands in for the OTel collector: accepts OTLP/HTTP posts so exporters have somewhere to send.
  otlp = createServer((req, res) => void req.resume().on('end', () => res.end('{}')));
  await new Promise<void>((r) => otlp.listen(0, '127.0.0.1', r));
  ({ services, ports } = await planNative(compose, {
    external: {
      // TLS, as compose's clients dial it (tls://nats:4222).
      'nats:4222': `tls://127.0.0.1:${nats.port}`,
      // TLS, as compose's clients dial it (rediss://redis:6379).
      'redis:6379': redisUrl,
      'otel-collector:4318': `http://127.0.0.1:${(otlp.address() as { port: number }).port}`,
    },
    volumesDir,
    env: { TANDEM_CLUSTER: CLUSTER },
    // Tracing on, as with `--profile observability`, so exporting is part of the native run.
    vars: { TANDEM_OTLP_ENDPOINT: 'http://otel-collector:4318' },
  }));
  // Compose order: each wave after the services it depends on (generator and router, workers, gateway).
  for (let wave = 0; wave <= Math.max(...services.map((s) => s.wave)); wave++) {
    const members = services.filter((s) => s.wave === wave);
    const started = await Promise.allSettled(members.map((s) => startNative(s)));
    // Keep what started (one-shot ones have already exited) so afterAll stops it even if a sibling failed.
    started.forEach((r, i) => r.status === 'fulfilled' && !members[i]!.oneShot && running.push(r.value));
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }
}, 60_000);

afterAll(async () => {
  await stopAll(running);
  await new Promise((r) => otlp?.close(r));
  await nats?.destroy();
  await redisServer?.destroy();
  if (volumesDir) rmSync(volumesDir, { recursive: true, force: true });
});

// Longer than the router's 32-token local-prefill threshold, so the request is disaggregated.
const prompt = Array.from({ length: 48 }, (_, i) => `word${(i * 7) % 23}`).join(' ');
/** The metrics key the `metrics-key` one-shot wrote, which every service's /metrics requires. */
const metricsKey = () => readFileSync(services.find((s) => s.name === 'router')!.env.TANDEM_METRICS_API_KEY_FILE!, 'utf8').trim();
const scrape = (url: string) => fetch(url, { headers: { authorization: `Bearer ${metricsKey()}` } });
const metricsOf = async (name: string) => (await scrape(String(proc(name).ready.metrics))).text();

describe('compose topology, run natively against the compose NATS and Redis configurations', () => {
  it('started every long-running Tandem service of compose.yaml after the one-shot generators', () => {
    expect(services.map((s) => s.name).sort()).toEqual(['cluster-certs', 'cluster-secret', 'decode-text', 'gateway', 'metrics-key', 'model', 'prefill-text', 'prefill-vision', 'router']);
    expect(running.map((p) => p.role).sort()).toEqual(['decode-text', 'gateway', 'prefill-text', 'prefill-vision', 'router']);
    // Same model directory for all, under the directory standing in for the `models` volume.
    const model = flags(services.find((s) => s.name === 'model')!.argv).get('out');
    expect(model?.startsWith(volumesDir)).toBe(true);
    for (const name of ['gateway', 'prefill-vision', 'prefill-text', 'decode-text']) expect(flags(services.find((s) => s.name === name)!.argv).get('model')).toBe(model);
  });

  it('every router, worker and gateway reads the one cluster secret the one-shot service wrote (mode 0600)', () => {
    const secret = flags(services.find((s) => s.name === 'cluster-secret')!.argv).get('out')!;
    expect(secret.startsWith(volumesDir)).toBe(true);
    expect(statSync(secret).mode & 0o777).toBe(0o600);
    for (const p of running) expect(services.find((s) => s.name === p.role)!.env.TANDEM_CLUSTER_SECRET_FILE, p.role).toBe(secret);
    // Authenticated, so no component warns that it runs --insecure.
    for (const p of running) expect(p.output(), p.role).not.toMatch(/--insecure/);
  });

  it('the router and each worker connect to NATS over TLS as their own user, from the password file in their own volume', async () => {
    const connz = (await (await fetch(`http://127.0.0.1:${nats.monitorPortNumber}/connz?auth=1`)).json()) as { connections: Array<{ name: string; authorized_user: string; tls_version?: string }> };
    const users = connz.connections.map((c) => `${c.name}=${c.authorized_user}`).sort();
    expect(users).toEqual(['decode-text', 'prefill-text', 'prefill-vision', 'router'].map((c) => `tandem-${c}=${c}`));
    // Every one of them over TLS (the server requires it: --tls in the compose command).
    for (const c of connz.connections) expect(c.tls_version, c.name).toMatch(/^1\.[23]$/);
    for (const p of running.filter((p) => p.role !== 'gateway')) {
      const env = services.find((s) => s.name === p.role)!.env;
      expect(env.TANDEM_NATS_USER, p.role).toBe(p.role);
      expect(env.TANDEM_NATS_PASSWORD_FILE, p.role).toBe(join(volumesDir, `nats-password-${p.role}`, 'password'));
    }
  });

  it('answers a chat completion through the gateway (official openai client), prefilled and decoded on different workers', async () => {
    const served = flags(compose.services.gateway!.command!).get('served-model-name')!;
    const client = new OpenAI({ baseURL: String(proc('gateway').ready.url), apiKey: 'unused', maxRetries: 8 });
    const r = await client.chat.completions.create({ model: served, messages: [{ role: 'user', content: prompt }], max_tokens: 8, temperature: 0, ignore_eos: true } as OpenAI.ChatCompletionCreateParamsNonStreaming);
    expect(r.model).toBe(served);
    expect(r.choices[0]!.message.content?.length).toBeGreaterThan(0);
    expect(r.usage!.completion_tokens).toBe(8);
    // The KV went from the prefill-text worker to the decode-text worker over the transfer engine:
    // the encrypted tcp backend compose chooses (TANDEM_TRANSFER_BACKEND), not UCX.
    const text = await metricsOf('prefill-text');
    expect(metricValue(text, 'tandem_kv_transfer_bytes_total')).toBeGreaterThan(0);
    expect(text).toMatch(/^tandem_kv_transfer_bytes_total\{[^}]*backend="tcp"[^}]*\} [1-9]/m);
    expect(text).not.toMatch(/^tandem_kv_transfer_bytes_total\{[^}]*backend="ucx"[^}]*\} [1-9]/m);
  });

  it('answers an image + text chat completion: the prefill-vision service encodes the image for the prefill-text worker', async () => {
    const served = flags(compose.services.gateway!.command!).get('served-model-name')!;
    const png = await sharp({ create: { width: 56, height: 28, channels: 3, background: { r: 200, g: 40, b: 90 } } }).png().toBuffer();
    const client = new OpenAI({ baseURL: String(proc('gateway').ready.url), apiKey: 'unused', maxRetries: 8 });
    const r = await client.chat.completions.create({
      model: served,
      messages: [{ role: 'user', content: [{ type: 'text', text: `Describe this picture. ${prompt}` }, { type: 'image_url', image_url: { url: `data:image/png;base64,${png.toString('base64')}` } }] }],
      max_tokens: 8,
      temperature: 0,
      ignore_eos: true,
    } as OpenAI.ChatCompletionCreateParamsNonStreaming);
    expect(r.choices[0]!.message.content?.length).toBeGreaterThan(0);
    expect(r.usage!.completion_tokens).toBe(8);
    // The prefill-text worker did not have the image: a miss of its encoder cache, filled by the
    // vision service's encoding (a miss there too), and the router recorded the vision stage.
    expect(metricValue(await metricsOf('prefill-text'), 'tandem_encoder_cache_misses_total')).toBeGreaterThanOrEqual(1);
    expect(metricValue(await metricsOf('prefill-vision'), 'tandem_encoder_cache_misses_total')).toBeGreaterThanOrEqual(1);
    // As the router's Redis user (the default user is off).
    const redis = new Redis(redisUrl, { username: 'router', password: readFileSync(join(volumesDir, 'redis-password-router', 'password'), 'utf8').trim(), tls: { ca: readFileSync(join(volumesDir, 'cluster-secret', 'tls', 'ca.crt')) } });
    try {
      expect(await redis.hget(`tandem:seq:${r.id}-0`, 'w:vision')).toBe(String(proc('prefill-vision').ready.id));
      expect(await settledHistory(redis, `tandem:seq:${r.id}-0`)).toBe('qeptdf');
    } finally {
      await redis.quit();
    }
    // The router's /metrics counted both requests (text, then image + text) as disaggregated plans.
    const decided = /^tandem_router_decisions_total\{[^}]*decision="disaggregated"[^}]*\} (\d+)$/m.exec(await metricsOf('router'));
    expect(Number(decided?.[1])).toBeGreaterThanOrEqual(2);
    // Nothing the components did over NATS was refused by the subject permissions.
    expect(nats.output).not.toMatch(/(Publish|Subscription) Violation/);
  });

  it('the /metrics the processes serve carry every metric the dashboards, alerts and HPAs query, with the labels they select on', async () => {
    const scrapes = await Promise.all([
      scrape(`${String(proc('gateway').ready.url).replace(/\/v1$/, '')}/metrics`).then((r) => r.text()),
      ...['router', 'prefill-vision', 'prefill-text', 'decode-text'].map(metricsOf),
    ]);
    const exposition = scrapes.join('\n');
    const typed = new Set([...exposition.matchAll(/^# TYPE (\S+) (\w+)/gm)].map((m) => m[1]!));
    const queries = [...dashboardQueries(), ...ruleQueries(), ...adapterRules().map((r) => ({ where: 'prometheus adapter', expr: r.seriesQuery }))];
    for (const q of queries) {
      for (const name of metricNamesIn(q.expr)) {
        const base = name.replace(/_(bucket|sum|count)$/, '');
        expect(typed.has(name) || typed.has(base), `${q.where}: ${name} is in no live /metrics`).toBe(true);
      }
      // Label matchers on Tandem metrics (e.g. role="$pool") must name labels the series carry.
      for (const m of q.expr.matchAll(/\b(tandem_[a-z0-9_]+)\{([^}]*)\}/g)) {
        for (const label of [...m[2]!.matchAll(/([a-z_]+)\s*(?:=~|!=|!~|=)/g)].map((x) => x[1]!)) {
          if (['namespace', 'pod', 'pool', 'job', 'instance'].includes(label)) continue; // added by Prometheus
          expect(exposition, `${q.where}: ${m[1]} has no label ${label}`).toMatch(new RegExp(`^${m[1]}\\{[^}]*\\b${label}="`, 'm'));
        }
      }
    }
  });

  it('every /metrics (and the gateway\'s /ready) answers 401 without the metrics key the one-shot wrote (mode 0640), /health stays open', async () => {
    const keyFile = services.find((s) => s.name === 'router')!.env.TANDEM_METRICS_API_KEY_FILE!;
    expect(keyFile.startsWith(volumesDir)).toBe(true);
    expect(statSync(keyFile).mode & 0o777).toBe(0o640);
    const gateway = String(proc('gateway').ready.url).replace(/\/v1$/, '');
    for (const url of [...['router', 'prefill-vision', 'prefill-text', 'decode-text'].map((n) => String(proc(n).ready.metrics)), `${gateway}/metrics`, `${gateway}/ready`]) {
      expect((await fetch(url)).status, url).toBe(401);
      expect((await scrape(url)).status, url).toBe(200);
    }
    expect((await fetch(String(proc('router').ready.metrics).replace(/\/metrics$/, '/health'))).status).toBe(200);
  });

  it('the compose health checks pass against the running services (and fail on a closed port)', () => {
    const check = (args: string[], env: Record<string, string> = {}) => spawnSync(process.execPath, [join(root, 'deploy', 'healthcheck.mjs'), ...args], { env: { ...process.env, ...env, HEALTHCHECK_HOST: '127.0.0.1' }, encoding: 'utf8' });
    for (const p of running) {
      const [kind, port, path] = compose.services[p.role]!.healthcheck!.test.slice(3);
      // With the container's environment (the metrics key file the gateway's /ready needs).
      const r = check([kind!, String(ports.get(`${p.role}:${port}`)), ...(path ? [path] : [])], services.find((s) => s.name === p.role)!.env);
      expect(r.status, `${p.role}: ${r.stderr}`).toBe(0);
    }
    expect(check(['tcp', '1']).status).toBe(1);
  });

  it('stops cleanly: every service exits 0 on SIGINT', async () => {
    await stopAll(running);
    for (const p of running) expect({ role: p.role, code: p.proc.exitCode, signal: p.proc.signalCode }).toEqual({ role: p.role, code: 0, signal: null });
  });
});
