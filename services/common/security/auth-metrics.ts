import { Counter, type Registry } from 'prom-client';

/** Where a rejected credential was presented. */
export type AuthPlane = 'grpc' | 'message' | 'registry' | 'transfer';

/**
 * `tandem_auth_rejected_total{plane,reason}` on every service that checks cluster credentials:
 * gRPC calls without a good token, NATS messages and registry records that are unsigned, forged
 * or stale, TCP transfer connections that fail the handshake. Anything above zero in a cluster
 * is a misconfigured component or someone probing the internal planes (docs/security.md).
 */
export function authRejections(registry: Registry): Counter<'plane' | 'reason'> {
  return new Counter({
    name: 'tandem_auth_rejected_total',
    help: 'Internal-plane credentials refused, by plane (grpc, message, registry, transfer) and reason (missing, bad_mac, expired, replayed, unsigned, forged, stale, ...).',
    labelNames: ['plane', 'reason'],
    registers: [registry],
  });
}
