import * as grpc from '@grpc/grpc-js';
import { grpcServerCredentials, type GrpcTls } from './grpc-tls.js';

/**
 * grpc-js resolves every DNS target's TXT record too, looking for a gRPC service config, which
 * Tandem never publishes. Off: that lookup is for a name no DNS server has a TXT record for
 * (a compose service name), so Docker's embedded resolver forwards it upstream; where the
 * upstream is unreachable from containers (no NAT) the query hangs 4 s, c-ares resends it for
 * tens of seconds, and Docker does not release a stopped container's network until its pending
 * queries time out: that was most of `docker compose down` (deploy/README.md).
 */
const NO_SERVICE_CONFIG_LOOKUP: grpc.ChannelOptions = { 'grpc.service_config_disable_resolution': 1 };

/** Channel options shared by clients: keepalive so dead peers are noticed. */
export const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  ...NO_SERVICE_CONFIG_LOOKUP,
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
  'grpc.max_receive_message_length': 64 * 1024 * 1024,
  'grpc.max_send_message_length': 64 * 1024 * 1024,
};

/**
 * `interceptors` run before every handler (call-auth.ts: the cluster token check); `tls`: serve
 * over TLS (grpc-tls.ts), else plaintext.
 */
export async function startGrpcServer(register: (s: grpc.Server) => void, host: string, port: number, interceptors: grpc.ServerInterceptor[] = [], tls?: GrpcTls): Promise<{ server: grpc.Server; port: number }> {
  // The server resolves its bind address with the same resolver as a client.
  const server = new grpc.Server({ ...NO_SERVICE_CONFIG_LOOKUP, 'grpc.max_receive_message_length': 64 * 1024 * 1024, interceptors });
  register(server);
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${port}`, grpcServerCredentials(tls), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { server, port: bound };
}
