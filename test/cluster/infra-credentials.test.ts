/**
 * NATS and Redis credentials and TLS beyond URL user:pass, against real servers (private
 * nats-server / redis-server processes, throw-away certificates from openssl):
 *  - NATS: an nkey seed file (TANDEM_NATS_NKEY_SEED_FILE), TLS with a private CA
 *    (tls:// + TANDEM_NATS_TLS_CA_FILE), and a client certificate the server requires
 *    (TANDEM_NATS_TLS_CERT_FILE / _KEY_FILE);
 *  - Redis: `rediss://` with TANDEM_REDIS_TLS_CA_FILE and the password in
 *    TANDEM_REDIS_PASSWORD_FILE, through the sequence store the router uses.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nkeys } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBus } from '../../services/bus/index.js';
import { connectNats } from '../../services/bus/nats-connect.js';
import { createSequenceStore } from '../../services/state/index.js';
import { natsServerAvailable, TestNatsServer } from '../fixtures/nats-test-server.js';
import { freePort, redisServerAvailable, TestRedisServer } from '../fixtures/redis-test-server.js';
import { makeTestCa, type TestCa } from '../fixtures/test-certs.js';

let dir: string;
let ca: TestCa;
const servers: Array<{ destroy(): Promise<void> }> = [];

beforeAll(() => {
  if (!natsServerAvailable()) throw new Error('nats-server not found (set NATS_SERVER_BIN or install nats-server; .ci/run does)');
  if (!redisServerAvailable()) throw new Error('redis-server not found (install redis-server; .ci/run does)');
  dir = mkdtempSync(join(tmpdir(), 'tandem-infra-creds-'));
  ca = makeTestCa(dir);
});

afterAll(async () => {
  await Promise.allSettled(servers.map((s) => s.destroy()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function roundTrip(url: string, env: Record<string, string>): Promise<void> {
  const bus = await createBus(url, { env, connectTimeoutMs: 3000 });
  try {
    const sub = bus.subscribe('probe.echo');
    void (async () => {
      for await (const m of sub) await bus.respond(m, m.data);
    })();
    await bus.flush();
    const reply = await bus.request('probe.echo', new TextEncoder().encode('hello'), { timeoutMs: 2000 });
    expect(new TextDecoder().decode(reply.data)).toBe('hello');
  } finally {
    await bus.close();
  }
}

describe('NATS: nkey seed file', () => {
  it('the seed of a configured user connects; another seed is refused, naming the file', async () => {
    const user = nkeys.createUser();
    const config = join(dir, 'nkey.conf');
    writeFileSync(config, `authorization { users: [ { nkey: ${user.getPublicKey()} } ] }\n`);
    const server = await TestNatsServer.start({ config });
    servers.push(server);
    const seed = join(dir, 'user.nk');
    writeFileSync(seed, new TextDecoder().decode(user.getSeed()) + '\n', { mode: 0o600 });
    await roundTrip(server.url, { TANDEM_NATS_NKEY_SEED_FILE: seed });
    const other = join(dir, 'other.nk');
    writeFileSync(other, new TextDecoder().decode(nkeys.createUser().getSeed()), { mode: 0o600 });
    await expect(connectNats(server.url, { env: { TANDEM_NATS_NKEY_SEED_FILE: other }, connectTimeoutMs: 3000 })).rejects.toThrow(
      `refused the credentials in the file ${other} (TANDEM_NATS_NKEY_SEED_FILE): 'authorization violation'`,
    );
    const notASeed = join(dir, 'not-a-seed');
    writeFileSync(notASeed, 'hello\n');
    await expect(connectNats(server.url, { env: { TANDEM_NATS_NKEY_SEED_FILE: notASeed } })).rejects.toThrow(/holds no user seed/);
  });
});

describe('NATS: TLS', () => {
  it('tls:// with the private CA connects; without the CA the certificate is refused', async () => {
    const cert = ca.issue('nats-server');
    const server = await TestNatsServer.start({ args: ['--tls', '--tlscert', cert.cert, '--tlskey', cert.key] });
    servers.push(server);
    const url = `tls://127.0.0.1:${server.port}`;
    await roundTrip(url, { TANDEM_NATS_TLS_CA_FILE: ca.cert });
    await expect(connectNats(url, { env: {}, connectTimeoutMs: 5000 })).rejects.toThrow(
      /^NATS at tls:\/\/127\.0\.0\.1:\d+ presented a certificate this client does not trust: unable to verify the first certificate \(TANDEM_NATS_TLS_CA_FILE names the CA to trust\)$/,
    );
    // A CA file alone turns TLS on for a nats:// URL too.
    await roundTrip(server.url, { TANDEM_NATS_TLS_CA_FILE: ca.cert });
  });

  it('a server that requires client certificates takes the one in TANDEM_NATS_TLS_CERT_FILE / _KEY_FILE and refuses a client without', async () => {
    const cert = ca.issue('nats-mtls');
    const client = ca.issue('nats-client');
    const server = await TestNatsServer.start({ args: ['--tlsverify', '--tlscert', cert.cert, '--tlskey', cert.key, '--tlscacert', ca.cert] });
    servers.push(server);
    const url = `tls://127.0.0.1:${server.port}`;
    await roundTrip(url, { TANDEM_NATS_TLS_CA_FILE: ca.cert, TANDEM_NATS_TLS_CERT_FILE: client.cert, TANDEM_NATS_TLS_KEY_FILE: client.key });
    await expect(connectNats(url, { env: { TANDEM_NATS_TLS_CA_FILE: ca.cert }, connectTimeoutMs: 2000 })).rejects.toThrow(/NATS/);
    await expect(connectNats(url, { env: { TANDEM_NATS_TLS_CERT_FILE: client.cert } })).rejects.toThrow('TANDEM_NATS_TLS_CERT_FILE and TANDEM_NATS_TLS_KEY_FILE go together');
  });
});

describe('Redis: rediss:// with a private CA and a password file', () => {
  it('the sequence store connects over TLS with TANDEM_REDIS_TLS_CA_FILE and TANDEM_REDIS_PASSWORD_FILE; a wrong password or no CA does not', async () => {
    const cert = ca.issue('redis-server');
    const tlsPort = await freePort();
    const password = 'p' + Math.random().toString(36).slice(2);
    const server = await TestRedisServer.start(['--tls-port', String(tlsPort), '--tls-cert-file', cert.cert, '--tls-key-file', cert.key, '--tls-ca-cert-file', ca.cert, '--tls-auth-clients', 'no', '--requirepass', password]);
    servers.push(server);
    const passwordFile = join(dir, 'redis-password');
    writeFileSync(passwordFile, password + '\n', { mode: 0o600 });
    const url = `rediss://127.0.0.1:${tlsPort}`;
    const store = await createSequenceStore(url, { env: { TANDEM_REDIS_TLS_CA_FILE: ca.cert, TANDEM_REDIS_PASSWORD_FILE: passwordFile }, connectTimeoutMs: 3000 });
    try {
      // A round trip through Redis: an unknown sequence, read over the TLS connection.
      expect(await store.get('tls-probe-none')).toBeUndefined();
      expect(await store.expired(0)).toEqual([]);
    } finally {
      await store.close();
    }
    const wrong = join(dir, 'redis-wrong');
    writeFileSync(wrong, 'nope\n');
    await expect(createSequenceStore(url, { env: { TANDEM_REDIS_TLS_CA_FILE: ca.cert, TANDEM_REDIS_PASSWORD_FILE: wrong }, connectTimeoutMs: 1500 })).rejects.toThrow(/WRONGPASS|invalid password/i);
    await expect(createSequenceStore(url, { env: { TANDEM_REDIS_PASSWORD_FILE: passwordFile }, connectTimeoutMs: 1500 })).rejects.toThrow(/certificate|self.signed|unable to verify/i);
    await expect(createSequenceStore(`redis://127.0.0.1:${tlsPort}`, { env: { TANDEM_REDIS_TLS_CA_FILE: ca.cert } })).rejects.toThrow(/TANDEM_REDIS_TLS_\* is set but the Redis URL .* is not rediss:\/\//);
    await expect(createSequenceStore(url, { env: { TANDEM_REDIS_TLS_CA_FILE: join(dir, 'missing.crt') } })).rejects.toThrow(/cannot read the Redis TLS CA file .* no such file/);
  });
});
