import { hkdfSync, randomBytes } from 'node:crypto';

/**
 * The keys of one cluster, each derived from the cluster secret with HKDF-SHA256 under its own
 * label, so a key that leaks from one plane (say, a gRPC token's HMAC key in a core dump) says
 * nothing about another, and no plane ever uses the secret itself.
 */
export class ClusterKeys {
  private constructor(
    /** HMAC-SHA256 key of gRPC call tokens (call-token.ts). */
    readonly grpc: Buffer,
    /** AES-256-GCM key of every NATS payload and registry record (seal.ts). */
    readonly bus: Buffer,
    /** TLS 1.3 pre-shared key of TCP KV / embedding transfers (services/transfer/tcp-tls.ts). */
    readonly transfer: Buffer,
    /** Encryption at rest of stored requests and tokens in Redis (services/state/at-rest.ts). */
    readonly state: Buffer,
  ) {}

  /** Keys of the cluster whose secret is `secret` (at least 32 bytes of it). */
  static fromSecret(secret: Uint8Array): ClusterKeys {
    if (secret.length < MIN_SECRET_BYTES) throw new RangeError(`a cluster secret must be at least ${MIN_SECRET_BYTES} bytes, got ${secret.length}`);
    const derive = (label: string) => Buffer.from(hkdfSync('sha256', secret, SALT, `tandem/v1/${label}`, 32));
    return new ClusterKeys(derive('grpc-token'), derive('bus-seal'), derive('transfer-auth'), derive('state-seal'));
  }

  /** Throw-away keys for one process (the in-process cluster of `tandem up`: nothing to share). */
  static ephemeral(): ClusterKeys {
    return ClusterKeys.fromSecret(randomBytes(32));
  }
}

export const MIN_SECRET_BYTES = 32;
const SALT = Buffer.from('tandem-cluster-secret-v1');
