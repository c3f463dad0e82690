import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import * as grpc from '@grpc/grpc-js';

/**
 * Optional TLS of the gRPC plane (docs/security.md), beside the call tokens (call-auth.ts), which
 * stay: TLS encrypts the calls and, with a CA, makes servers demand a client certificate it
 * signed (mutual TLS); the token still proves the caller holds the cluster secret.
 */
export interface GrpcTlsFiles {
  /** PEM certificate chain this component presents (as a server, and as a client under mTLS). */
  cert?: string;
  /** PEM private key of `cert`. */
  key?: string;
  /** PEM CA certificate(s) peers' certificates must chain to; servers then require client certificates. */
  ca?: string;
  /**
   * As a client: the name a server's certificate must carry, whatever address is dialled. For
   * servers dialled at addresses no certificate can name in advance — Kubernetes pod IPs: every
   * worker presents one certificate named e.g. `tandem-worker`, and the router checks that name.
   */
  serverName?: string;
}

/** The PEM contents of GrpcTlsFiles. */
export interface GrpcTls {
  cert?: Buffer;
  key?: Buffer;
  ca?: Buffer;
  serverName?: string;
}

/**
 * Reads the files of a component. Undefined when none is given (no TLS). `server`: the component
 * serves gRPC (router, worker) and so needs a certificate and its key; a client only (the
 * gateway) may give just a CA (server-authenticated TLS) or a certificate too (for mTLS).
 */
export function loadGrpcTls(files: GrpcTlsFiles, server: boolean): GrpcTls | undefined {
  if (files.cert === undefined && files.key === undefined && files.ca === undefined) {
    if (files.serverName !== undefined) throw new Error('a gRPC TLS server name (--grpc-tls-server-name) needs TLS files (a CA at least)');
    return undefined;
  }
  if ((files.cert === undefined) !== (files.key === undefined)) throw new Error('gRPC TLS needs both a certificate and its key (--grpc-tls-cert and --grpc-tls-key)');
  if (server && files.cert === undefined) throw new Error('a gRPC server needs a certificate and key for TLS (--grpc-tls-cert and --grpc-tls-key), not only a CA');
  const read = (what: string, path: string | undefined) => {
    if (path === undefined) return undefined;
    try {
      return readFileSync(path);
    } catch (e) {
      throw new Error(`cannot read the gRPC TLS ${what} ${path}: ${(e as Error).message}`);
    }
  };
  const tls: GrpcTls = {};
  const cert = read('certificate', files.cert);
  const key = read('key', files.key);
  const ca = read('CA', files.ca);
  if (cert) tls.cert = cert;
  if (key) tls.key = key;
  if (ca) tls.ca = ca;
  if (files.serverName !== undefined) {
    if (!/^[A-Za-z0-9.-]{1,253}$/.test(files.serverName)) throw new Error(`the gRPC TLS server name '${files.serverName}' is not a DNS name`);
    tls.serverName = files.serverName;
  }
  // Unusable files (not PEM, a key that is not the certificate's) fail here, at start.
  try {
    createSecureContext({ cert, key, ca });
    if (ca && !/-----BEGIN CERTIFICATE-----/.test(ca.toString('latin1'))) throw new Error('the CA file holds no PEM certificate');
  } catch (e) {
    throw new Error(`the gRPC TLS files (${[files.cert, files.key, files.ca].filter(Boolean).join(', ')}) are unusable: ${(e as Error).message}`);
  }
  return tls;
}

/** Server credentials: TLS with this certificate (client certificates required when a CA is given), or plaintext. */
export function grpcServerCredentials(tls: GrpcTls | undefined): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  if (!tls.cert || !tls.key) throw new Error('a gRPC server needs a certificate and key for TLS');
  return grpc.ServerCredentials.createSsl(tls.ca ?? null, [{ cert_chain: tls.cert, private_key: tls.key }], tls.ca !== undefined);
}

/**
 * Channel options for a client of these credentials: with a server name, the server's certificate
 * is checked against it instead of the dialled address (and it is the call's authority).
 */
export function grpcChannelOptions(tls: GrpcTls | undefined, base: grpc.ChannelOptions = {}): grpc.ChannelOptions {
  if (!tls?.serverName) return base;
  return { ...base, 'grpc.ssl_target_name_override': tls.serverName, 'grpc.default_authority': tls.serverName };
}

/** Channel credentials: TLS trusting `ca` (else the system's CAs), presenting the certificate if any; or plaintext. */
export function grpcChannelCredentials(tls: GrpcTls | undefined): grpc.ChannelCredentials {
  if (!tls) return grpc.credentials.createInsecure();
  return grpc.credentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null);
}
