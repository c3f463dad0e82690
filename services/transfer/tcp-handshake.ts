/**
 * The TCP backend's peer authentication (docs/security.md): before a receiver reads a single
 * put frame it challenges the sender to prove it holds the cluster's transfer key.
 *
 *   receiver → sender   hello = magic "TDKH" u32 | server nonce (32)
 *   sender → receiver   auth  = magic "TDKU" u32 | client nonce (32) | HMAC-SHA256(key, label | server nonce | client nonce)
 *
 * A fresh server nonce per connection makes a recorded handshake useless on a new connection.
 * The receiver drops a connection whose first bytes are not a valid auth frame (or that sends
 * none within HANDSHAKE_TIMEOUT_MS) without writing anything into its regions.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const HELLO_MAGIC = 0x484b4454; // "TDKH"
export const AUTH_MAGIC = 0x554b4454; // "TDKU"
export const HELLO_BYTES = 4 + 32;
export const AUTH_BYTES = 4 + 32 + 32;
export const HANDSHAKE_TIMEOUT_MS = 5_000;
const LABEL = Buffer.from('tandem-tcp-transfer-v1');

function proof(key: Buffer, serverNonce: Buffer, clientNonce: Buffer): Buffer {
  return createHmac('sha256', key).update(LABEL).update(serverNonce).update(clientNonce).digest();
}

/** Receiver: the challenge it sends first, and the nonce to check the answer against. */
export function helloFrame(): { frame: Buffer; nonce: Buffer } {
  const nonce = randomBytes(32);
  const frame = Buffer.allocUnsafe(HELLO_BYTES);
  frame.writeUInt32LE(HELLO_MAGIC, 0);
  nonce.copy(frame, 4);
  return { frame, nonce };
}

/** Sender: its answer to a hello frame, or an error message if it is not one. */
export function answerHello(key: Buffer, hello: Buffer): Buffer | string {
  if (hello.length !== HELLO_BYTES || hello.readUInt32LE(0) !== HELLO_MAGIC) return 'the receiver did not open with a Tandem transfer handshake';
  const clientNonce = randomBytes(32);
  const frame = Buffer.allocUnsafe(AUTH_BYTES);
  frame.writeUInt32LE(AUTH_MAGIC, 0);
  clientNonce.copy(frame, 4);
  proof(key, hello.subarray(4), clientNonce).copy(frame, 36);
  return frame;
}

/** Receiver: whether `auth` answers the challenge `serverNonce` with the cluster key. */
export function checkAuth(key: Buffer, serverNonce: Buffer, auth: Buffer): boolean {
  if (auth.length !== AUTH_BYTES || auth.readUInt32LE(0) !== AUTH_MAGIC) return false;
  return timingSafeEqual(proof(key, serverNonce, auth.subarray(4, 36)), auth.subarray(36));
}

/** Collects the first `size` bytes of a stream; hands back the frame and whatever followed it. */
export class FirstFrame {
  private readonly parts: Buffer[] = [];
  private have = 0;

  constructor(private readonly size: number) {}

  push(chunk: Buffer): { frame: Buffer; rest: Buffer } | undefined {
    this.parts.push(chunk);
    this.have += chunk.length;
    if (this.have < this.size) return undefined;
    const all = Buffer.concat(this.parts, this.have);
    return { frame: all.subarray(0, this.size), rest: all.subarray(this.size) };
  }
}
