/** The gRPC call-token interceptors on a real server: no handler runs for a call without a good token. */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterKeys } from '../security/cluster-keys.js';
import { authenticatedClientOptions, serverAuthInterceptor } from './call-auth.js';
import { startGrpcServer } from './grpc-server.js';

const keys = ClusterKeys.ephemeral();
const json = { serialize: (v: unknown) => Buffer.from(JSON.stringify(v)), deserialize: (b: Buffer) => JSON.parse(b.toString()) as unknown };
const service: grpc.ServiceDefinition = {
  Echo: { path: '/test.Echo/Echo', requestStream: false, responseStream: false, requestSerialize: json.serialize, requestDeserialize: json.deserialize, responseSerialize: json.serialize, responseDeserialize: json.deserialize },
  Stream: { path: '/test.Echo/Stream', requestStream: false, responseStream: true, requestSerialize: json.serialize, requestDeserialize: json.deserialize, responseSerialize: json.serialize, responseDeserialize: json.deserialize },
};
const Client = grpc.makeGenericClientConstructor(service, 'Echo');
let server: grpc.Server;
let address: string;
const handled: string[] = [];
const refused: string[] = [];

beforeAll(async () => {
  const s = await startGrpcServer(
    (srv) =>
      srv.addService(service, {
        Echo: (call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
          handled.push('Echo');
          // The token never reaches handlers (nor tracing that copies metadata).
          cb(null, { echo: call.request, token: call.metadata.get('x-tandem-token').length });
        },
        Stream: (call: grpc.ServerWritableStream<unknown, unknown>) => {
          handled.push('Stream');
          call.write({ n: 1 });
          call.end();
        },
      }),
    '127.0.0.1',
    0,
    [serverAuthInterceptor(keys.grpc, (_m, reason) => refused.push(reason))],
  );
  server = s.server;
  address = `127.0.0.1:${s.port}`;
});
afterAll(() => server.forceShutdown());

type AnyClient = grpc.Client & Record<string, (...a: unknown[]) => unknown>;
const client = (key?: Buffer) => new Client(address, grpc.credentials.createInsecure(), authenticatedClientOptions({}, key)) as unknown as AnyClient;
const unary = (c: AnyClient, req: unknown) =>
  new Promise<{ err: grpc.ServiceError | null; res: unknown }>((resolve) => c.Echo!(req, (err: grpc.ServiceError | null, res: unknown) => resolve({ err, res })));
const stream = (c: AnyClient) =>
  new Promise<{ code: number; items: unknown[] }>((resolve) => {
    const items: unknown[] = [];
    const s = c.Stream!({}) as grpc.ClientReadableStream<unknown>;
    s.on('data', (d) => items.push(d));
    s.on('error', (e: grpc.ServiceError) => resolve({ code: e.code, items }));
    s.on('end', () => resolve({ code: 0, items }));
  });

describe('gRPC call authentication', () => {
  it('a call with the cluster token reaches the handler, which never sees the token', async () => {
    const c = client(keys.grpc);
    expect(await unary(c, { a: 1 })).toEqual({ err: null, res: { echo: { a: 1 }, token: 0 } });
    expect(await stream(c)).toEqual({ code: 0, items: [{ n: 1 }] });
    c.close();
  });

  it('calls without a token or with another cluster\'s are UNAUTHENTICATED and run nothing', async () => {
    handled.length = 0;
    refused.length = 0;
    for (const c of [client(), client(ClusterKeys.ephemeral().grpc)]) {
      const { err } = await unary(c, { a: 1 });
      expect(err?.code).toBe(grpc.status.UNAUTHENTICATED);
      expect((await stream(c)).code).toBe(grpc.status.UNAUTHENTICATED);
      c.close();
    }
    expect(handled).toEqual([]);
    expect(refused).toEqual(['missing', 'missing', 'bad_mac', 'bad_mac']);
  });

  it('a captured token replayed is refused', async () => {
    handled.length = 0;
    const raw = client();
    const md = new grpc.Metadata();
    const { mintCallToken } = await import('../security/call-token.js');
    md.set('x-tandem-token', mintCallToken(keys.grpc, '/test.Echo/Echo'));
    const call = (m: grpc.Metadata) => new Promise<grpc.ServiceError | null>((resolve) => raw.Echo!({}, m, (err: grpc.ServiceError | null) => resolve(err)));
    expect(await call(md)).toBeNull();
    expect((await call(md))?.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(handled).toEqual(['Echo']);
    raw.close();
  });
});
