/**
 * deploy/nats/nats-server.conf for real: a private nats-server started through deploy/nats/start.sh
 * with that very file and passwords made by deploy/nats/gen-passwords.sh (what compose runs).
 *
 *  (a) a client without credentials, with a wrong password, or with a file that is not there
 *      cannot connect, and says why;
 *  (b) a `tandem up --cluster` whose router and workers each get their own user through the
 *      environment (`TANDEM_NATS_USER={component}`, `TANDEM_NATS_PASSWORD_FILE=…/{component}/password`)
 *      serves text and image requests through the official `openai` client, disaggregated over
 *      NATS (kv.reserve, emb.reserve, kv.ready, KV events, the registry), with no permission
 *      violation in the server's log;
 *  (c) worker credentials are refused the router's subjects (kv.reserve, emb.reserve,
 *      prefill.abort), reading the prompts in kv.reserve (all but decode workers, which answer
 *      them), the router's replies, everything (`>`), and deleting the registry.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { connect, ErrorCode, Events, type NatsConnection } from 'nats';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BusError, createBus, type Bus } from '../../services/bus/index.js';
import { connectNats } from '../../services/bus/nats-connect.js';
import { startTandemUp, settledHistory, metricValue, type RunningCluster } from '../fixtures/cluster.js';
import { natsServerAvailable, TestNatsServer } from '../fixtures/nats-test-server.js';
import { redisServerAvailable, TestRedisServer } from '../fixtures/redis-test-server.js';
import { dataUrl, gradientImage } from '../fixtures/test-images.js';
import { root } from './repo-files.js';

const CONFIG = join(root, 'deploy', 'nats', 'nats-server.conf');
const COMPONENTS = ['router', 'prefill-vision', 'prefill-text', 'decode-text'] as const;
type Component = (typeof COMPONENTS)[number];
const WORKERS: Component[] = ['prefill-vision', 'prefill-text', 'decode-text'];

let dir: string;
let nats: TestNatsServer;
let redis: TestRedisServer;
let cluster: RunningCluster | undefined;
const open: NatsConnection[] = [];

const passwordFile = (c: string) => join(dir, 'passwords', c, 'password');
const password = (c: string) => readFileSync(passwordFile(c), 'utf8').trim();

beforeAll(async () => {
  // Never a skip: without the binaries this test fails, and says what is missing.
  if (!natsServerAvailable()) throw new Error('nats-server not found (set NATS_SERVER_BIN or install nats-server; .ci/run does)');
  if (!redisServerAvailable()) throw new Error('redis-server not found (install redis-server; .ci/run does)');
  dir = mkdtempSync(join(tmpdir(), 'tandem-nats-perm-'));
  for (const c of COMPONENTS) mkdirSync(join(dir, 'passwords', c), { recursive: true });
  execFileSync('sh', [join(root, 'deploy', 'nats', 'gen-passwords.sh'), ...COMPONENTS.map((c) => join(dir, 'passwords', c))]);
  nats = await TestNatsServer.start({ config: CONFIG, launcher: ['sh', join(root, 'deploy', 'nats', 'start.sh')], env: { TANDEM_NATS_PASSWORDS_DIR: join(dir, 'passwords') } });
  redis = await TestRedisServer.start();
}, 30_000);

afterAll(async () => {
  for (const nc of open) await nc.close().catch(() => undefined);
  await cluster?.stop();
  await Promise.allSettled([nats?.destroy(), redis?.destroy()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A raw nats.js connection as `component` (its password, its reply inbox), recording what the server refused. */
async function connectAs(component: Component): Promise<{ nc: NatsConnection; refused: Array<{ operation: string; subject: string }> }> {
  const nc = await connect({ servers: `127.0.0.1:${nats.port}`, user: component, pass: password(component), inboxPrefix: `_INBOX.${component}` });
  open.push(nc);
  const refused: Array<{ operation: string; subject: string }> = [];
  void (async () => {
    for await (const s of nc.status()) {
      const ctx = (s as { permissionContext?: { operation: string; subject: string } }).permissionContext;
      if (s.type === Events.Error && s.data === ErrorCode.PermissionsViolation && ctx) refused.push({ operation: ctx.operation, subject: ctx.subject });
    }
  })();
  return { nc, refused };
}

/** Subscribes and resolves with the server's verdict: 'refused' (permissions violation) or 'allowed'. */
async function trySubscribe(nc: NatsConnection, subject: string): Promise<'refused' | 'allowed'> {
  const sub = nc.subscribe(subject);
  const verdict = (async () => {
    try {
      for await (const _ of sub) void _;
      return 'allowed' as const;
    } catch (e) {
      return (e as { code?: string }).code === ErrorCode.PermissionsViolation ? ('refused' as const) : ('allowed' as const);
    }
  })();
  await nc.flush();
  await new Promise((r) => setTimeout(r, 100));
  if (!sub.isClosed()) sub.unsubscribe();
  return verdict;
}

const refusedWithin = async (refused: Array<{ operation: string; subject: string }>, nc: NatsConnection, op: string, subject: string) => {
  await nc.flush();
  for (let i = 0; i < 20 && !refused.some((r) => r.operation === op && r.subject === subject); i++) await new Promise((r) => setTimeout(r, 25));
  return refused.some((r) => r.operation === op && r.subject === subject);
};

describe('deploy/nats/nats-server.conf on a real nats-server', () => {
  it('the generated passwords are 64 hex digits, mode 0600', () => {
    for (const c of COMPONENTS) {
      expect(password(c)).toMatch(/^[0-9a-f]{64}$/);
      expect(statSync(passwordFile(c)).mode & 0o777).toBe(0o600);
    }
    // Every one different.
    expect(new Set(COMPONENTS.map(password)).size).toBe(COMPONENTS.length);
  });

  describe('(a) no entry without credentials', () => {
    it('a client with no credentials is refused, and told what to set', async () => {
      await expect(connect({ servers: `127.0.0.1:${nats.port}` })).rejects.toMatchObject({ code: ErrorCode.AuthorizationViolation });
      await expect(connectNats(nats.url, { env: {}, connectTimeoutMs: 3000 })).rejects.toThrow(/requires credentials \(.*authorization violation.*\): set TANDEM_NATS_CREDS_FILE/);
    });

    it('a wrong password, a wrong user or a token is refused, naming where the credential came from', async () => {
      const wrong = join(dir, 'wrong-password');
      writeFileSync(wrong, 'not-the-password\n', { mode: 0o600 });
      await expect(connectNats(nats.url, { env: { TANDEM_NATS_USER: 'router', TANDEM_NATS_PASSWORD_FILE: wrong }, connectTimeoutMs: 3000 })).rejects.toThrow(
        new RegExp(`NATS at nats://127\\.0\\.0\\.1:${nats.port} refused the credentials in user 'router' with the password in ${wrong} \\(TANDEM_NATS_PASSWORD_FILE\\): .*authorization violation`),
      );
      // The router's password is not the decode worker's.
      await expect(connectNats(nats.url, { env: { TANDEM_NATS_USER: 'decode-text', TANDEM_NATS_PASSWORD_FILE: passwordFile('router') }, connectTimeoutMs: 3000 })).rejects.toThrow(/refused the credentials/);
      await expect(connectNats(nats.url, { env: { TANDEM_NATS_TOKEN: password('router') }, connectTimeoutMs: 3000 })).rejects.toThrow(/refused the credentials in the token in TANDEM_NATS_TOKEN: .*authorization violation/);
      // Credentials in the URL: the message never repeats them.
      const err = await connectNats(`nats://router:nope@127.0.0.1:${nats.port}`, { env: {}, connectTimeoutMs: 3000 }).catch((e: Error) => e);
      expect(String(err)).toMatch(/refused the credentials in the NATS URL/);
      expect(String(err)).not.toContain('nope');
    });

    it('a credential file that is not there is an error before any dial', async () => {
      const missing = join(dir, 'nope', 'password');
      await expect(connectNats(nats.url, { env: { TANDEM_NATS_USER: 'router', TANDEM_NATS_PASSWORD_FILE: missing } })).rejects.toThrow(`cannot read the NATS password file ${missing} (TANDEM_NATS_PASSWORD_FILE): no such file`);
      await expect(connectNats(nats.url, { env: { TANDEM_NATS_CREDS_FILE: missing } })).rejects.toThrow(/cannot read the NATS credentials file .* \(TANDEM_NATS_CREDS_FILE\): no such file/);
      await expect(connectNats(nats.url, { env: { TANDEM_NATS_NKEY_SEED_FILE: missing } })).rejects.toThrow(/cannot read the NATS nkey seed file/);
    });

    it('the right password for the right user connects', async () => {
      const nc = await connectNats(nats.url, { env: { TANDEM_NATS_USER: '{component}', TANDEM_NATS_PASSWORD_FILE: join(dir, 'passwords', '{component}', 'password') }, component: 'decode-text', connectTimeoutMs: 3000 });
      expect(nc.info?.server_name).toBeTruthy();
      await nc.close();
    });
  });

  describe('(b) tandem up --cluster with a user per component', () => {
    beforeAll(async () => {
      cluster = await startTandemUp(['--cluster', '--nats', nats.url, '--redis', redis.url, '--cluster-name', `natsperm${process.pid}`], {
        // One environment for every child; each finds its own user and password file.
        TANDEM_NATS_USER: '{component}',
        TANDEM_NATS_PASSWORD_FILE: join(dir, 'passwords', '{component}', 'password'),
      }, 120_000);
    }, 150_000);

    it('every router and worker connection is authorized as its own user', async () => {
      const connz = (await (await fetch(`http://127.0.0.1:${nats.monitorPortNumber}/connz?auth=1`)).json()) as { connections: Array<{ name: string; authorized_user: string }> };
      const users = connz.connections.map((c) => `${c.name}=${c.authorized_user}`).sort();
      expect(users).toEqual(COMPONENTS.map((c) => `tandem-${c}=${c}`).sort());
    });

    it('serves a text and an image request through the openai client, disaggregated over NATS, with no permission refused', async () => {
      const client = new OpenAI({ baseURL: cluster!.baseURL, apiKey: 'unused', maxRetries: 4 });
      const r = await new Redis(redis.url);
      try {
        // Longer than the router's local-prefill threshold: reserved on the decode worker over NATS.
        const prompt = Array.from({ length: 48 }, (_, i) => `word${(i * 7) % 23}`).join(' ');
        const text = await client.chat.completions.create({ model: 'ernie-4.5-vl-tiny', messages: [{ role: 'user', content: prompt }], max_tokens: 8, temperature: 0 });
        expect(text.choices[0]!.finish_reason).toBe('length');
        expect(await settledHistory(r, `tandem:seq:${text.id}-0`)).toBe('qptdf');
        const image = await client.chat.completions.create({
          model: 'ernie-4.5-vl-tiny',
          max_tokens: 4,
          temperature: 0,
          messages: [{ role: 'user', content: [{ type: 'text', text: `What is this? ${prompt}` }, { type: 'image_url', image_url: { url: dataUrl(await gradientImage(56, 56)) } }] }],
        });
        expect(image.choices[0]!.message.content).toBeTypeOf('string');
        // The vision stage ran: emb.reserve went to the prefill worker over NATS.
        expect(await settledHistory(r, `tandem:seq:${image.id}-0`)).toBe('qeptdf');
      } finally {
        r.disconnect();
      }
      const routerMetrics = /router\s+pid \d+\s+(http:\S+\/metrics)/.exec(cluster!.output())![1]!;
      const metrics = await (await fetch(routerMetrics)).text();
      expect(metricValue(metrics, 'tandem_router_bus_fallbacks_total')).toBe(0);
      expect(nats.output).not.toMatch(/(Publish|Subscription) Violation/);
      expect(cluster!.output()).not.toMatch(/NATS permissions refuse/);
    });
  });

  describe('(c) worker credentials stay on the worker side', () => {
    it('no worker may publish the router\'s requests: kv.reserve, emb.reserve, prefill.abort', async () => {
      // A decode worker's own kv.reserve subject (it may listen there) sees only the router's request.
      const decode = await connectAs('decode-text');
      const seen: string[] = [];
      const sub = decode.nc.subscribe('tandem.v1.kv.reserve.probe-decode');
      void (async () => {
        for await (const m of sub) seen.push(new TextDecoder().decode(m.data));
      })();
      await decode.nc.flush();
      for (const w of WORKERS) {
        const { nc, refused } = await connectAs(w);
        for (const subject of ['tandem.v1.kv.reserve.probe-decode', 'tandem.v1.emb.reserve.probe-prefill', 'tandem.v1.prefill.abort.probe-prefill']) {
          nc.publish(subject, new TextEncoder().encode(`forged by ${w}`));
          expect(await refusedWithin(refused, nc, 'publish', subject), `${w} → ${subject}`).toBe(true);
        }
      }
      const router = await connectAs('router');
      router.nc.publish('tandem.v1.kv.reserve.probe-decode', new TextEncoder().encode('from the router'));
      await router.nc.flush();
      await new Promise((r) => setTimeout(r, 200));
      expect(seen).toEqual(['from the router']);
      expect(router.refused).toEqual([]);
    });

    it('through the bus: a worker-credential request to kv.reserve fails with a BusError naming the permissions', async () => {
      let bus: Bus | undefined;
      try {
        bus = await createBus(nats.url, { component: 'prefill-text', env: { TANDEM_NATS_USER: 'prefill-text', TANDEM_NATS_PASSWORD_FILE: passwordFile('prefill-text') } });
        const err = await bus.request('tandem.v1.kv.reserve.probe-decode', new Uint8Array([1]), { timeoutMs: 2000 }).catch((e: Error) => e);
        expect(err).toBeInstanceOf(BusError);
        expect(String(err)).toMatch(/NATS refused 'tandem\.v1\.kv\.reserve\.probe-decode' to this connection's user: .*Permissions Violation for Publish/);
      } finally {
        await bus?.close();
      }
    });

    it('prompts (kv.reserve), the router\'s replies and everything else are unreadable to workers that do not answer them', async () => {
      for (const w of ['prefill-vision', 'prefill-text'] as const) {
        const { nc } = await connectAs(w);
        expect(await trySubscribe(nc, 'tandem.v1.kv.reserve.*'), `${w} reading kv.reserve`).toBe('refused');
      }
      for (const w of WORKERS) {
        const { nc } = await connectAs(w);
        expect(await trySubscribe(nc, '_INBOX.router.>'), `${w} reading the router's replies`).toBe('refused');
        expect(await trySubscribe(nc, '>'), `${w} reading everything`).toBe('refused');
        expect(await trySubscribe(nc, 'tandem.v1.>'), `${w} reading every tandem subject`).toBe('refused');
        expect(await trySubscribe(nc, '$KV.>'), `${w} reading registry puts as they happen`).toBe('refused');
      }
      // The one a decode worker needs (it answers reservations) stays allowed.
      const { nc } = await connectAs('decode-text');
      expect(await trySubscribe(nc, 'tandem.v1.kv.reserve.*')).toBe('allowed');
    });

    it('JetStream is bounded for every credential: a bucket larger than the account\'s storage is refused', async () => {
      const { nc } = await connectAs('decode-text');
      const jsm = await nc.jetstreamManager();
      await expect(jsm.streams.add({ name: 'KV_flood', subjects: ['$KV.flood.>'], max_bytes: 2 * 1024 ** 3 })).rejects.toThrow(/insufficient|exceed|resources|limit/i);
    });

    it('no component may delete or purge the registry stream', async () => {
      const bucket = `KV_tandem_v1_registry_natsperm${process.pid}`;
      for (const c of COMPONENTS) {
        const { nc, refused } = await connectAs(c);
        for (const op of ['DELETE', 'PURGE']) {
          const subject = `$JS.API.STREAM.${op}.${bucket}`;
          nc.publish(subject, new Uint8Array());
          expect(await refusedWithin(refused, nc, 'publish', subject), `${c} ${op}`).toBe(true);
        }
      }
    });
  });
});
