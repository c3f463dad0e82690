import * as grpc from '@grpc/grpc-js';
import { authenticatedClientOptions } from '../common/grpc/call-auth.js';
import { CHANNEL_OPTIONS } from '../common/grpc/grpc-server.js';
import { grpcChannelCredentials, grpcChannelOptions, type GrpcTls } from '../common/grpc/grpc-tls.js';
import { tandemV1 } from '../protocol/grpc-services.js';

/** One gRPC client per worker address, reused across requests. */
export class WorkerClients {
  private readonly clients = new Map<string, grpc.Client>();

  /**
   * `tokenKey`: the cluster's gRPC key; every call then carries a call token (call-auth.ts).
   * `tls`: dial workers over TLS (grpc-tls.ts), else plaintext.
   */
  constructor(
    private readonly tokenKey?: Buffer,
    private readonly tls?: GrpcTls,
  ) {}

  get(address: string): grpc.Client & Record<string, (...args: unknown[]) => unknown> {
    let c = this.clients.get(address);
    if (!c) {
      c = new (tandemV1().Worker)(address, grpcChannelCredentials(this.tls), authenticatedClientOptions(grpcChannelOptions(this.tls, CHANNEL_OPTIONS), this.tokenKey));
      this.clients.set(address, c);
    }
    return c as grpc.Client & Record<string, (...args: unknown[]) => unknown>;
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
