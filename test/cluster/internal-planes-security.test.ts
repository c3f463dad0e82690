/**
 * The internal planes of a real `tandem up --cluster` (separate processes, real NATS and Redis,
 * the secret it generates for the run), probed the way issue 10 found them open, from a local
 * client that has everything but the cluster secret:
 *  - gRPC: Router.Generate and Worker.Generate without a call token, or with one minted under
 *    another key, are refused UNAUTHENTICATED and counted in tandem_auth_rejected_total — while
 *    the same call with a token from the cluster's secret is served (so the refusal is the auth);
 *  - the registry: worker records put on the cluster's JetStream bucket by a plain NATS client
 *    (a prefill and a decode worker with the most attractive load) are ignored: requests are all
 *    served by the real workers, the fake addresses never see a connection, the router counts
 *    the unsigned records;
 *  - the wire: a NATS wildcard subscriber sees only sealed payloads on Tandem's subjects and the
 *    registry, and no prompt token ids anywhere, while disaggregated requests run;
 *  - gRPC TLS: the run's throw-away CA and certificate (made with openssl) put every gRPC hop on
 *    mutual TLS: a plaintext client, even one with a good call token, cannot call the router or
 *    a worker (the connection fails), nor can a TLS client without a certificate from that CA;
 *    requests through the gateway are served over it;
 *  - the UCX KV transfer: the decode pool's descriptor (even read with the secret) has no rkey,
 *    so no one-sided put can reach it; a checked put with no lease or a made-up one is refused
 *    by the decode worker before a byte lands, counted, and the cached prefix still gives the
 *    same tokens;
 *  - start-up: a router, worker or gateway given neither a secret nor --insecure refuses to
 *    start, saying what to pass; --insecure starts with a warning.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { connect as natsConnect, type MsgHdrs, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientAuthInterceptor } from '../../services/common/grpc/call-auth.js';
import { grpcChannelCredentials, loadGrpcTls } from '../../services/common/grpc/grpc-tls.js';
import { tandemHome } from '../../services/common/paths.js';
import { ClusterKeys } from '../../services/common/security/cluster-keys.js';
import { readSecretFile } from '../../services/common/security/secret-file.js';
import { AtRestCipher } from '../../services/state/at-rest.js';
import { Redis } from 'ioredis';
import { tandemV1 } from '../../services/protocol/grpc-services.js';
import { registryBucket } from '../../services/protocol/registry.js';
import { createTransferEngine, TransferError } from '../../services/transfer/transfer-engine.js';
import { requestToPb } from '../../services/protocol/wire.js';
import { decodePoolDescriptor, sprayWithoutLease } from '../fixtures/kv-pool-probe.js';
import { startTandemUp, type RunningCluster } from '../fixtures/cluster.js';
import { genTinyModel } from '../fixtures/models.js';

const MODEL = 'tiny-secure';
const NATS = process.env.TANDEM_NATS_URL ?? 'nats://127.0.0.1:4222';
const REDIS = process.env.TANDEM_REDIS_URL ?? 'redis://127.0.0.1:6379';
const CLUSTER = `security-${process.pid}`;
const BIN = join(import.meta.dirname, '..', '..', 'bin', 'tandem.js');
// Well over the 32-token local-prefill threshold (so the KV handshake runs over NATS), distinct
// and inside the tiny vocabulary.
const PROMPT_IDS = Array.from({ length: 48 }, (_, i) => 300 + ((i * 37) % 97));

let modelDir: string;
let cluster: RunningCluster;
let secretFile: string;
let tlsDir: string;
let nc: NatsConnection;
/** A client of the cluster's gRPC: its CA and certificate (what every component presents). */
const tlsCreds = () => grpcChannelCredentials(loadGrpcTls({ cert: join(tlsDir, 'tandem.crt'), key: join(tlsDir, 'tandem.key'), ca: join(tlsDir, 'ca.crt') }, false));

const line = (role: string) => new RegExp(`${role}\\s+pid \\d+\\s+(?:id \\S+\\s+)?(http:\\S+/metrics)\\s+grpc (\\S+)`).exec(cluster.output())!;
const metricsUrl = (role: string) => line(role)[1]!;
const grpcAddress = (role: string) => line(role)[2]!;

/** tandem_auth_rejected_total summed over the label values given (0 when never incremented). */
async function rejected(role: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(metricsUrl(role))).text();
  let sum = 0;
  for (const m of text.matchAll(/^tandem_auth_rejected_total\{([^}]*)\} (\S+)$/gm)) {
    const have = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1]!, x[2]!]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[2]);
  }
  return sum;
}

/** A completion through the gateway (the authenticated way in) with the prompt as token ids. */
async function complete(prompt: number[], maxTokens = 4): Promise<{ status: number; text: string }> {
  const r = await fetch(`${cluster.baseURL}/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, prompt, max_tokens: maxTokens, temperature: 0 }),
  });
  return { status: r.status, text: await r.text() };
}

/** Calls a server-streaming Generate; resolves with the gRPC status code it ends with (0 = OK). */
function generate(service: 'Router' | 'Worker', address: string, interceptors: grpc.Interceptor[] = [], credentials = tlsCreds()): Promise<{ code: number; chunks: number; details: string }> {
  const client = new (tandemV1()[service])(address, credentials, { interceptors });
  const req = requestToPb({
    id: `attacker-${service}-${Date.now()}`,
    promptTokenIds: PROMPT_IDS.slice(0, 8),
    sampling: { temperature: 0, topP: 1, topK: -1, minP: 0, presencePenalty: 0, frequencyPenalty: 0, repetitionPenalty: 1, maxTokens: 2, stopTokenIds: [], ignoreEos: true },
  });
  return new Promise((resolve) => {
    let chunks = 0;
    const call = (client as unknown as Record<string, (r: unknown, md: grpc.Metadata, o: grpc.CallOptions) => grpc.ClientReadableStream<unknown>>).Generate!(req, new grpc.Metadata(), { deadline: Date.now() + 20_000 });
    call.on('data', () => chunks++);
    call.on('error', (e: grpc.ServiceError) => {
      client.close();
      resolve({ code: e.code, chunks, details: e.details });
    });
    call.on('end', () => {
      client.close();
      resolve({ code: grpc.status.OK, chunks, details: '' });
    });
  });
}

beforeAll(async () => {
  modelDir = genTinyModel('ernie4_5', 11);
  // No --cluster-secret-file: the cluster generates its own secret for this run.
  cluster = await startTandemUp(
    ['--cluster', '--nats', NATS, '--redis', REDIS, '--model', modelDir, '--served-model-name', MODEL, '--prefill-text', '1', '--decode-text', '1', '--cluster-name', CLUSTER],
    { TANDEM_CLUSTER_SECRET_FILE: '', TANDEM_INSECURE: '' },
    120_000,
  );
  secretFile = join(tandemHome(), 'clusters', CLUSTER, `secret.${cluster.proc.pid}`);
  tlsDir = join(tandemHome(), 'clusters', CLUSTER, `tls.${cluster.proc.pid}`);
  nc = await natsConnect({ servers: NATS.replace(/^nats:\/\//, '') });
}, 180_000);

afterAll(async () => {
  if (process.env.TANDEM_TEST_DUMP) process.stderr.write(cluster?.output() ?? '');
  await nc?.close();
  await cluster?.stop();
});

describe('tandem up --cluster: the generated cluster secret', () => {
  it('is a 0600 file only its path travels to the children (not in any command line)', () => {
    expect(statSync(secretFile).mode & 0o777).toBe(0o600);
    const { secret } = readSecretFile(secretFile);
    for (const role of ['router', 'prefill-text-0', 'decode-text-0']) {
      const pid = Number(new RegExp(`${role}\\s+pid (\\d+)`).exec(cluster.output())![1]);
      const argv = readArgv(pid);
      expect(argv, role).not.toContain(secret.toString());
      expect(argv.join(' '), role).not.toMatch(/nats:\/\/|redis:\/\/|secret/);
    }
  });
});

describe('gRPC: calls without the cluster token are refused before any work', () => {
  it('Router.Generate without a token, or with one from another key: UNAUTHENTICATED, counted; with the cluster token: served', async () => {
    const router = grpcAddress('router');
    const before = await rejected('router', { plane: 'grpc' });
    const bare = await generate('Router', router);
    expect(bare.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(bare.chunks).toBe(0);
    expect(bare.details).toMatch(/missing cluster token/);
    const forged = await generate('Router', router, [clientAuthInterceptor(ClusterKeys.ephemeral().grpc)]);
    expect(forged.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(forged.details).toMatch(/bad_mac/);
    expect(await rejected('router', { plane: 'grpc', reason: 'missing' })).toBeGreaterThanOrEqual(1);
    expect(await rejected('router', { plane: 'grpc' })).toBe(before + 2);
    // The same request with a token made from the cluster's own secret is served.
    const keys = ClusterKeys.fromSecret(readSecretFile(secretFile).secret);
    const good = await generate('Router', router, [clientAuthInterceptor(keys.grpc)]);
    expect(good.code, good.details).toBe(grpc.status.OK);
    expect(good.chunks).toBeGreaterThan(0);
  });

  it('Worker.Generate on the decode worker without a token: UNAUTHENTICATED, counted by that worker', async () => {
    const before = await rejected('decode-text-0', { plane: 'grpc' });
    const bare = await generate('Worker', grpcAddress('decode-text-0'));
    expect(bare.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(bare.chunks).toBe(0);
    expect(await rejected('decode-text-0', { plane: 'grpc' })).toBe(before + 1);
  });
});

describe('gRPC TLS: a throw-away CA and certificate per run', () => {
  it('are made for the run (key 0600, the CA key dropped), and only their paths reach the children', () => {
    expect(cluster.output()).toMatch(/gRPC over mutual TLS with a throw-away CA/);
    expect(readdirSync(tlsDir).sort()).toEqual(['ca.crt', 'tandem.crt', 'tandem.key']);
    expect(statSync(join(tlsDir, 'tandem.key')).mode & 0o777).toBe(0o600);
    const key = readFileSync(join(tlsDir, 'tandem.key'), 'utf8');
    for (const role of ['router', 'decode-text-0', 'gateway']) {
      const pid = Number(new RegExp(`${role}\\s+pid (\\d+)`).exec(cluster.output())![1]);
      expect(readArgv(pid).join(' '), role).not.toMatch(/grpc-tls|BEGIN/);
      expect(readFileSync(`/proc/${pid}/environ`, 'utf8'), role).toContain(`TANDEM_GRPC_TLS_KEY=${join(tlsDir, 'tandem.key')}`);
      expect(readFileSync(`/proc/${pid}/environ`, 'utf8'), role).not.toContain(key.split('\n')[1]!);
    }
  });

  it('a plaintext client cannot call the router or a worker, even with a good call token; nor a TLS client without a certificate from the CA', async () => {
    const keys = ClusterKeys.fromSecret(readSecretFile(secretFile).secret);
    const token = [clientAuthInterceptor(keys.grpc)];
    const before = await rejected('router', { plane: 'grpc' });
    for (const [service, address] of [['Router', grpcAddress('router')], ['Worker', grpcAddress('decode-text-0')]] as const) {
      const plain = await generate(service, address, token, grpc.credentials.createInsecure());
      expect(plain.code, `${service} plaintext: ${plain.details}`).toBe(grpc.status.UNAVAILABLE);
      expect(plain.chunks).toBe(0);
      const noCert = await generate(service, address, token, grpcChannelCredentials(loadGrpcTls({ ca: join(tlsDir, 'ca.crt') }, false)));
      expect(noCert.code, `${service} without a client certificate: ${noCert.details}`).toBe(grpc.status.UNAVAILABLE);
      expect(noCert.chunks).toBe(0);
    }
    // Refused by TLS, below the token check: no call reached the interceptor.
    expect(await rejected('router', { plane: 'grpc' })).toBe(before);
    // The same call over the cluster's TLS, with the token, is served.
    const good = await generate('Router', grpcAddress('router'), token);
    expect(good.code, good.details).toBe(grpc.status.OK);
    expect(good.chunks).toBeGreaterThan(0);
  });

  it('requests through the gateway are served (gateway → router → workers over TLS)', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await complete(PROMPT_IDS.map((t) => t + 300 + i), 4);
      expect(r.status, r.text).toBe(200);
    }
  });
});

describe('NATS without the secret', () => {
  it('forged worker records on the registry bucket are ignored: the real workers serve, the fakes see nothing', async () => {
    const fakes: Server[] = [];
    let connections = 0;
    const fakeAddress = async () => {
      const s = createServer((sock) => {
        connections++;
        sock.destroy();
      });
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
      fakes.push(s);
      return `127.0.0.1:${(s.address() as { port: number }).port}`;
    };
    const kv = await nc.jetstream().views.kv(registryBucket(CLUSTER));
    const layout = { layers: 4, kvHeads: 2, headDim: 16, blockSize: 16, numBlocks: 1024, dtype: 'bf16' };
    const idle = { running: 0, waiting: 0, kvUsage: 0, freeBlocks: 100_000, preemptions: 0 };
    const records = [
      { id: 'forged-prefill', role: 'prefill-text', model: MODEL, grpc: await fakeAddress(), layout, load: { ...idle, waiting: -1000 }, startedAtMs: Date.now() },
      { id: 'forged-decode', role: 'decode-text', model: MODEL, grpc: await fakeAddress(), layout, load: idle, startedAtMs: Date.now() },
    ];
    const put = () => Promise.all(records.map((r) => kv.put(r.id, new TextEncoder().encode(JSON.stringify(r)))));
    const before = await rejected('router', { plane: 'registry', reason: 'unsigned' });
    await put();
    const keepUp = setInterval(() => void put().catch(() => undefined), 500);
    try {
      // Let the router's registry watch see them (as it would a real worker's heartbeat).
      await new Promise((r) => setTimeout(r, 1500));
      for (let i = 0; i < 6; i++) {
        const r = await complete(PROMPT_IDS.map((t) => t + i), 4);
        expect(r.status, r.text).toBe(200);
      }
    } finally {
      clearInterval(keepUp);
      await Promise.all(records.map((r) => kv.delete(r.id)));
      for (const s of fakes) s.close();
    }
    expect(connections).toBe(0);
    expect(await rejected('router', { plane: 'registry', reason: 'unsigned' })).toBeGreaterThan(before);
  });

  it('a wildcard subscriber sees sealed payloads only, and no prompt token ids, while requests run', async () => {
    const seen: Array<{ subject: string; data: Uint8Array }> = [];
    const sub = nc.subscribe('>');
    const collecting = (async () => {
      for await (const m of sub) seen.push({ subject: m.subject, data: m.data });
    })();
    const prompts = [PROMPT_IDS.map((t) => t + 100), PROMPT_IDS.map((t) => t + 200)];
    for (const p of prompts) expect((await complete(p, 6)).status).toBe(200);
    await nc.flush();
    // Workers refresh their records every second: wait for one (a busy machine may not have put
    // one while the two short requests ran).
    const kvSubject = `$KV.${registryBucket(CLUSTER)}.`;
    for (let t0 = Date.now(); !seen.some((m) => m.subject.startsWith(kvSubject)) && Date.now() - t0 < 5000; ) await new Promise((r) => setTimeout(r, 100));
    sub.unsubscribe();
    await collecting;

    const ours = seen.filter((m) => m.subject.startsWith('tandem.v1.') || m.subject.startsWith(kvSubject));
    // Not vacuous: the KV handshake of a disaggregated request went over NATS, and records too.
    expect(ours.some((m) => m.subject.startsWith('tandem.v1.kv.reserve.'))).toBe(true);
    expect(ours.some((m) => m.subject.startsWith(kvSubject))).toBe(true);
    for (const m of ours) {
      if (m.data.length === 0) continue; // registry deletes carry no payload
      expect(Buffer.from(m.data.subarray(0, 4)).toString('latin1'), m.subject).toBe('TSL1');
    }
    // No window of a prompt in clear, as JSON numbers or as 32-bit integers, in any message.
    for (const p of prompts) {
      const json = Buffer.from(p.slice(10, 16).join(','));
      const u32 = Buffer.from(new Uint32Array(p.slice(10, 16)).buffer);
      for (const m of seen) {
        const b = Buffer.from(m.data);
        expect(b.includes(json), `${m.subject} carries prompt ids as JSON`).toBe(false);
        expect(b.includes(u32), `${m.subject} carries prompt ids as integers`).toBe(false);
      }
    }
  });
});

describe('NATS replays', () => {
  it('a captured KV reservation published again is refused as a replay: no second lease is made', async () => {
    const captured: Array<{ subject: string; data: Uint8Array; headers: MsgHdrs | undefined }> = [];
    const sub = nc.subscribe('tandem.v1.kv.reserve.>');
    const collecting = (async () => {
      for await (const m of sub) captured.push({ subject: m.subject, data: m.data, headers: m.headers });
    })();
    expect((await complete(PROMPT_IDS.map((t) => t + 500), 2)).status).toBe(200);
    await nc.flush();
    sub.unsubscribe();
    await collecting;
    expect(captured.length).toBeGreaterThan(0);
    const leases = async () => {
      const text = await (await fetch(metricsUrl('decode-text-0'))).text();
      return Number(/^tandem_worker_kv_leases(?:\{[^}]*\})? (\S+)$/m.exec(text)![1]);
    };
    const before = await rejected('decode-text-0', { plane: 'message', reason: 'replayed' });
    // Within the seal's freshness window, unchanged, to the same subject, with a reply inbox.
    const inbox = nc.subscribe('_INBOX.replay.>');
    let replies = 0;
    const counting = (async () => {
      for await (const _ of inbox) replies++;
    })();
    // Headers too: the trace context is bound to the seal, so without them it would not even open.
    nc.publish(captured[0]!.subject, captured[0]!.data, { reply: '_INBOX.replay.1', ...(captured[0]!.headers ? { headers: captured[0]!.headers } : {}) });
    await nc.flush();
    for (let t0 = Date.now(); (await rejected('decode-text-0', { plane: 'message', reason: 'replayed' })) === before && Date.now() - t0 < 3000; ) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await rejected('decode-text-0', { plane: 'message', reason: 'replayed' })).toBe(before + 1);
    expect(await leases()).toBe(0);
    inbox.unsubscribe();
    await counting;
    expect(replies).toBe(0);
  });
});

describe('the UCX KV transfer, probed by a peer holding the cluster secret', () => {
  it('finds no rkey to aim a one-sided put with; checked puts without the transfer key, or with it but without a lease, are refused before they land', async () => {
    const prompt = PROMPT_IDS.map((t) => t + 420);
    const before = await complete(prompt, 8);
    expect(before.status, before.text).toBe(200);
    const notGrantedBefore = await rejected('decode-text-0', { plane: 'transfer', reason: 'not_granted' });
    const badMacBefore = await rejected('decode-text-0', { plane: 'transfer', reason: 'bad_mac' });
    const keys = ClusterKeys.fromSecret(readSecretFile(secretFile).secret);
    const region = (await decodePoolDescriptor(NATS, CLUSTER, keys))!;
    expect(region.backend).toBe('ucx');
    expect(region.endpoint).toMatchObject({ access: 'checked', rkey: '', baseAddress: '0' });
    // Without the transfer key (the descriptor leaked, say), and with it (a component holding the secret).
    for (const authKey of [undefined, keys.transfer]) {
      const sender = await createTransferEngine('ucx', authKey ? { authKey } : {});
      try {
        for (const err of await sprayWithoutLease(sender, region)) {
          expect(err).toBeInstanceOf(TransferError);
          expect((err as TransferError).code).toBe('not_granted');
          expect((err as TransferError).message).toMatch(authKey ? /lease it names is unknown|names no lease/ : /not authenticated/);
        }
      } finally {
        await sender.close();
      }
    }
    expect(await rejected('decode-text-0', { plane: 'transfer', reason: 'bad_mac' })).toBe(badMacBefore + 2);
    expect(await rejected('decode-text-0', { plane: 'transfer', reason: 'not_granted' })).toBe(notGrantedBefore + 2);
    const after = await complete(prompt, 8);
    expect(after.status, after.text).toBe(200);
    expect(JSON.parse(after.text).choices[0].text).toBe(JSON.parse(before.text).choices[0].text);
  });
});

describe('Redis without the secret', () => {
  it('a client reading Redis finds no prompt and no generated token in clear; the store reads them back', async () => {
    const prompt = PROMPT_IDS.map((t) => t + 400);
    const r = await fetch(`${cluster.baseURL}/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, prompt, max_tokens: 40, temperature: 0, logprobs: 1 }),
    });
    expect(r.status).toBe(200);
    const body = (await r.json()) as { id: string };
    const key = `tandem:seq:${body.id}-0`;
    const redis = new Redis(REDIS, { lazyConnect: true });
    try {
      // Wait for the checkpoint (every 32 tokens) and the final state to land (off the request path).
      for (let t0 = Date.now(); (await redis.hget(key, 'state')) !== 'finished' && Date.now() - t0 < 5000; ) await new Promise((res) => setTimeout(res, 50));
      const storedRequest = (await redis.get(`${key}:request`))!;
      const storedTokens = (await redis.getBuffer(`${key}:tokens`))!;
      expect(storedRequest.startsWith('sealed:v1:')).toBe(true);
      expect(storedRequest).not.toContain(prompt.slice(0, 6).join(','));
      expect(storedTokens.length).toBeGreaterThanOrEqual(32 * 4);
      // Opened with the cluster's key, they are the prompt and the generated tokens.
      const cipher = new AtRestCipher(ClusterKeys.fromSecret(readSecretFile(secretFile).secret).state);
      expect((JSON.parse(cipher.openRequest(`${body.id}-0`, storedRequest)) as { promptTokenIds: number[] }).promptTokenIds).toEqual(prompt);
      const clear = cipher.tokens(`${body.id}-0`, 0, storedTokens);
      expect(clear.equals(storedTokens)).toBe(false);
      for (let i = 0; i < clear.length / 4; i++) expect(clear.readUInt32LE(i * 4)).toBeLessThan(1024 * 1024); // real token ids
    } finally {
      redis.disconnect();
    }
  });
});

describe('start-up without a secret', () => {
  const noSecretEnv = () => {
    const env = { ...process.env };
    delete env.TANDEM_CLUSTER_SECRET_FILE;
    delete env.TANDEM_INSECURE;
    return env;
  };
  const run = (args: string[], until?: RegExp) =>
    new Promise<{ code: number | null; out: string }>((resolve) => {
      const proc = spawn(process.execPath, [BIN, ...args], { env: noSecretEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      const check = () => {
        if (until?.test(out)) proc.kill('SIGINT');
      };
      proc.stdout!.on('data', (d) => ((out += d), check()));
      proc.stderr!.on('data', (d) => ((out += d), check()));
      proc.on('exit', (code) => resolve({ code, out }));
    });

  it.each([
    ['router', ['router', '--nats', NATS, '--redis', REDIS, '--cluster-name', `${CLUSTER}-refused`]],
    ['worker', ['worker', '--role', 'decode-text', '--nats', NATS, '--model', '/nonexistent', '--cluster-name', `${CLUSTER}-refused`]],
    ['gateway', ['gateway', '--router', '127.0.0.1:1', '--model', '/nonexistent']],
  ])('tandem %s refuses to start, saying what to pass', async (_name, args) => {
    const r = await run(args);
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/needs the cluster secret: --cluster-secret-file FILE \(or TANDEM_CLUSTER_SECRET_FILE\); or --insecure to run without authentication/);
  });

  it('with --insecure a router starts, warning loudly', async () => {
    const r = await run(['router', '--insecure', '--nats', NATS, '--redis', REDIS, '--cluster-name', `${CLUSTER}-insecure`], /"role":"router"/);
    expect(r.out).toMatch(/"role":"router"/);
    expect(r.out).toMatch(/WARNING: tandem router runs with --insecure/);
  });

  it('the generated secret and TLS files are removed when the cluster stops', async () => {
    expect(existsSync(secretFile)).toBe(true);
    expect(existsSync(tlsDir)).toBe(true);
    await cluster.stop();
    expect(existsSync(secretFile)).toBe(false);
    expect(existsSync(tlsDir)).toBe(false);
  });
});

/** A process's command line, as any local user reads it (Linux /proc). */
function readArgv(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
}
