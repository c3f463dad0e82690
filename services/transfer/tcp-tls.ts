/**
 * The TCP backend's channel security (docs/security.md): with the cluster's transfer key, every
 * connection is TLS 1.3 keyed by that key as an external pre-shared key (TLS-PSK, no
 * certificates). The handshake proves to each side that the other holds the key (a wrong key
 * fails the PSK binder or Finished check), and every put frame and ack after it is encrypted and
 * integrity-protected (AES-128-GCM or ChaCha20-Poly1305).
 *
 * Node (OpenSSL 3) offers TLS 1.3 PSK through the same pskCallback as TLS 1.2's PSK ciphers, but
 * only with SHA-256 cipher suites (a legacy-callback PSK is bound to SHA-256: with
 * TLS_AES_256_GCM_SHA384 alone the handshake finds no usable key); hence the two suites below.
 * TLS 1.2 is not offered.
 */
import type tls from 'node:tls';

/** The PSK identity both sides name (one key per cluster, so one identity). */
export const PSK_IDENTITY = 'tandem-transfer-v1';
export const TLS_CIPHERS = 'TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256';
/** A connection that has not finished its handshake by then is dropped (both sides). */
export const HANDSHAKE_TIMEOUT_MS = 5_000;

const COMMON = { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3', ciphers: TLS_CIPHERS } as const;

/** Receiver: accepts only peers that know `key` under PSK_IDENTITY. */
export function pskServerOptions(key: Buffer): tls.TlsOptions {
  return {
    ...COMMON,
    pskIdentityHint: PSK_IDENTITY,
    pskCallback: (_socket, identity) => (identity === PSK_IDENTITY ? key : null),
    handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
  };
}

/** Sender: offers `key`; there is no certificate to check (the PSK authenticates the receiver). */
export function pskClientOptions(key: Buffer): tls.ConnectionOptions {
  return {
    ...COMMON,
    pskCallback: () => ({ psk: key, identity: PSK_IDENTITY }),
    checkServerIdentity: () => undefined,
  };
}
