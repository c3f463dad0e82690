/**
 * gRPC TLS credentials on a real server, with certificates made by `tandem gen-certs`' code
 * (openssl): a mutual-TLS server serves a client holding a certificate from its CA (call tokens
 * still checked), and refuses plaintext clients, clients without a certificate and clients that
 * trust another CA.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCerts, opensslAvailable, type GeneratedCerts } from '../../cli/gen-certs.js';
import { ClusterKeys } from '../security/cluster-keys.js';
import { authenticatedClientOptions, serverAuthInterceptor } from './call-auth.js';
import { startGrpcServer } from './grpc-server.js';
import { grpcChannelCredentials, grpcChannelOptions, grpcServerCredentials, loadGrpcTls, type GrpcTls } from './grpc-tls.js';

const json = { serialize: (v: unknown) => Buffer.from(JSON.stringify(v)), deserialize: (b: Buffer) => JSON.parse(b.toString()) as unknown };
const service: grpc.ServiceDefinition = {
  Echo: { path: '/test.Echo/Echo', requestStream: false, responseStream: false, requestSerialize: json.serialize, requestDeserialize: json.deserialize, responseSerialize: json.serialize, responseDeserialize: json.deserialize },
};
const Client = grpc.makeGenericClientConstructor(service, 'Echo');
const keys = ClusterKeys.ephemeral();
const dir = mkdtempSync(join(tmpdir(), 'tandem-grpc-tls-'));
let certs: GeneratedCerts;
let other: GeneratedCerts;
const handled: string[] = [];

async function serve(tls: GrpcTls | undefined): Promise<{ server: grpc.Server; address: string }> {
  const s = await startGrpcServer(
    (srv) =>
      srv.addService(service, {
        Echo: (call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
          handled.push('Echo');
          cb(null, { echo: call.request });
        },
      }),
    '127.0.0.1',
    0,
    [serverAuthInterceptor(keys.grpc)],
    tls,
  );
  return { server: s.server, address: `127.0.0.1:${s.port}` };
}

function echo(address: string, creds: grpc.ChannelCredentials, key: Buffer | null = keys.grpc): Promise<{ code: number; details: string; res?: unknown }> {
  const c = new Client(address, creds, authenticatedClientOptions({}, key ?? undefined)) as unknown as grpc.Client & { Echo: (r: unknown, md: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r: unknown) => void) => void };
  return new Promise((resolve) =>
    c.Echo({ a: 1 }, new grpc.Metadata(), { deadline: Date.now() + 5000 }, (err, res) => {
      c.close();
      resolve(err ? { code: err.code, details: err.details } : { code: 0, details: '', res });
    }),
  );
}

beforeAll(() => {
  // openssl makes the certificates (.ci/run installs it): without it these tests fail, never skip.
  if (!opensslAvailable()) throw new Error('the openssl command is not on PATH (apt-get install openssl)');
  certs = generateCerts(join(dir, 'a'), { hosts: ['127.0.0.1', 'localhost'], days: 1, keepCaKey: false });
  other = generateCerts(join(dir, 'b'), { hosts: ['127.0.0.1'], days: 1, keepCaKey: false });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('loadGrpcTls', () => {
  it('no files: no TLS; a certificate without its key, or a server with a CA only: an error', () => {
    expect(loadGrpcTls({}, true)).toBeUndefined();
    expect(() => loadGrpcTls({ cert: '/x.crt' }, false)).toThrow(/both a certificate and its key/);
    expect(() => loadGrpcTls({ ca: '/x.crt' }, true)).toThrow(/server needs a certificate and key/);
    expect(() => loadGrpcTls({ cert: join(dir, 'missing.crt'), key: join(dir, 'missing.key') }, true)).toThrow(/cannot read the gRPC TLS certificate/);
  });

  it('plaintext credentials without TLS', () => {
    expect(grpcServerCredentials(undefined)._isSecure()).toBe(false);
    expect(grpcChannelCredentials(undefined)._isSecure()).toBe(false);
  });
});

describe('gRPC over mutual TLS', () => {
  it('serves a client with a certificate from the CA; tokens are still required', async () => {
    const tls = loadGrpcTls({ cert: certs.cert, key: certs.key, ca: certs.ca }, true)!;
    expect(grpcServerCredentials(tls)._isSecure()).toBe(true);
    const { server, address } = await serve(tls);
    try {
      handled.length = 0;
      expect(await echo(address, grpcChannelCredentials(tls))).toEqual({ code: 0, details: '', res: { echo: { a: 1 } } });
      // TLS does not replace the call token (defense in depth).
      expect((await echo(address, grpcChannelCredentials(tls), null)).code).toBe(grpc.status.UNAUTHENTICATED);
      // The same server by name (the certificate names localhost too).
      expect((await echo(address.replace('127.0.0.1', 'localhost'), grpcChannelCredentials(tls))).code).toBe(0);
      expect(handled).toEqual(['Echo', 'Echo']);
    } finally {
      server.forceShutdown();
    }
  });

  it('refuses a plaintext client, a client without a certificate and one trusting another CA; nothing runs', async () => {
    const tls = loadGrpcTls({ cert: certs.cert, key: certs.key, ca: certs.ca }, true)!;
    const { server, address } = await serve(tls);
    try {
      handled.length = 0;
      const plain = await echo(address, grpc.credentials.createInsecure());
      expect(plain.code).toBe(grpc.status.UNAVAILABLE);
      const noCert = await echo(address, grpcChannelCredentials(loadGrpcTls({ ca: certs.ca }, false)));
      expect(noCert.code).toBe(grpc.status.UNAVAILABLE);
      const otherCa = await echo(address, grpcChannelCredentials(loadGrpcTls({ cert: other.cert, key: other.key, ca: other.ca }, false)));
      expect(otherCa.code).toBe(grpc.status.UNAVAILABLE);
      expect(handled).toEqual([]);
    } finally {
      server.forceShutdown();
    }
  });

  it('without a CA the server takes any client (server-authenticated TLS), which must trust its CA', async () => {
    const { server, address } = await serve(loadGrpcTls({ cert: certs.cert, key: certs.key }, true));
    try {
      expect((await echo(address, grpcChannelCredentials(loadGrpcTls({ ca: certs.ca }, false)))).code).toBe(0);
      // A client trusting only the system's CAs does not accept a private CA's certificate.
      expect((await echo(address, grpc.credentials.createSsl())).code).toBe(grpc.status.UNAVAILABLE);
    } finally {
      server.forceShutdown();
    }
  });

  it('a certificate whose names do not match the address dialled is refused', async () => {
    const narrow = generateCerts(join(dir, 'c'), { hosts: ['tandem.example'], days: 1, keepCaKey: false });
    const tls = loadGrpcTls({ cert: narrow.cert, key: narrow.key, ca: narrow.ca }, true)!;
    const { server, address } = await serve(tls);
    try {
      expect((await echo(address, grpcChannelCredentials(tls))).code).toBe(grpc.status.UNAVAILABLE);
    } finally {
      server.forceShutdown();
    }
  });

  it('with a server name, a certificate naming only it is accepted at any address (Kubernetes pod IPs); another name is refused', async () => {
    const named = generateCerts(join(dir, 'd'), { hosts: ['tandem-worker'], days: 1, keepCaKey: false });
    const serverTls = loadGrpcTls({ cert: named.cert, key: named.key, ca: named.ca }, true)!;
    const { server, address } = await serve(serverTls);
    try {
      const client = (serverName?: string) => loadGrpcTls({ cert: named.cert, key: named.key, ca: named.ca, ...(serverName ? { serverName } : {}) }, false)!;
      const call = (tls: GrpcTls) => {
        const c = new Client(address, grpcChannelCredentials(tls), authenticatedClientOptions(grpcChannelOptions(tls), keys.grpc)) as unknown as grpc.Client & { Echo: (r: unknown, md: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r: unknown) => void) => void };
        return new Promise<number>((resolve) => c.Echo({ a: 1 }, new grpc.Metadata(), { deadline: Date.now() + 5000 }, (err) => (c.close(), resolve(err ? err.code : 0))));
      };
      // Dialled at 127.0.0.1, which the certificate does not name: refused without the override.
      expect(await call(client())).toBe(grpc.status.UNAVAILABLE);
      expect(await call(client('tandem-worker'))).toBe(grpc.status.OK);
      expect(await call(client('tandem-router'))).toBe(grpc.status.UNAVAILABLE);
    } finally {
      server.forceShutdown();
    }
    expect(() => loadGrpcTls({ serverName: 'tandem-worker' }, false)).toThrow(/needs TLS files/);
    expect(() => loadGrpcTls({ ca: named.ca, serverName: 'not a name' }, false)).toThrow(/not a DNS name/);
  });

  it('a file that is no PEM, or a key that is not the certificate\'s, fails at load, not on the first call', () => {
    const bad = join(dir, 'bad.pem');
    writeFileSync(bad, 'not a certificate\n');
    expect(() => loadGrpcTls({ cert: bad, key: certs.key }, true)).toThrow(/gRPC TLS files .* unusable/);
    expect(() => loadGrpcTls({ cert: certs.cert, key: other.key }, true)).toThrow(/gRPC TLS files .* unusable/);
    expect(() => loadGrpcTls({ ca: bad }, false)).toThrow(/gRPC TLS files .* unusable/);
  });
});
