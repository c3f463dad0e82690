/**
 * The TCP backend with a cluster key: puts flow between engines that share it; a connection
 * that skips the handshake, or answers it with another key, writes nothing.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ClusterKeys } from '../common/security/cluster-keys.js';
import { TransferError } from './errors.js';
import { TcpTransferEngine } from './tcp-backend.js';
import { encodePutHeader } from './tcp-protocol.js';
import { createTransferEngine } from './transfer-engine.js';

const keys = ClusterKeys.ephemeral();
const engines: TcpTransferEngine[] = [];
async function tcp(authKey?: Buffer, onAuthRefused?: (r: string) => void): Promise<TcpTransferEngine> {
  const e = (await createTransferEngine('tcp', { authKey, onAuthRefused })) as TcpTransferEngine;
  engines.push(e);
  return e;
}
afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.close()));
});
const op = (length: number, remoteOffset = 0) => [{ localOffset: 0, remoteOffset, length }];
const filled = (n: number, v: number) => new Uint8Array(n).fill(v).buffer;

describe('tcp transfer with the cluster handshake', () => {
  it('senders with the key write, pipelined, as without it', async () => {
    const receiver = await tcp(keys.transfer);
    const sender = await tcp(keys.transfer);
    const region = new ArrayBuffer(1 << 14);
    const d = await receiver.registerRegion('kv', region);
    await Promise.all(Array.from({ length: 8 }, (_, i) => sender.put(d, filled(1024, i + 1), op(1024, i * 1024))));
    expect(new Uint8Array(region)[7 * 1024]).toBe(8);
    expect(receiver.received).toEqual({ bytes: 8 * 1024, puts: 8, refused: 0 });
    expect(receiver.refusedConnections).toBe(0);
  });

  it('a raw put without the handshake is dropped, nothing written', async () => {
    const reasons: string[] = [];
    const receiver = await tcp(keys.transfer, (r) => reasons.push(r));
    const region = new ArrayBuffer(4096);
    const d = await receiver.registerRegion('kv', region);
    const socket = net.connect({ host: d.endpoint['host'] as string, port: d.endpoint['port'] as number });
    const closed = new Promise<void>((r) => socket.on('close', () => r()));
    socket.on('error', () => {});
    socket.resume(); // read (and ignore) the challenge, so the close is seen
    socket.write(encodePutHeader(1, 'kv', op(64)));
    socket.write(Buffer.alloc(64, 0xee));
    socket.write(Buffer.alloc(64, 0xee)); // enough bytes to fill an auth frame
    await closed;
    expect(new Uint8Array(region).some((b) => b !== 0)).toBe(false);
    expect(receiver.received.bytes).toBe(0);
    expect(receiver.refusedConnections).toBe(1);
    expect(reasons).toEqual(['handshake_failed']);
  });

  it('a sender with another cluster\'s key, or none, is refused', async () => {
    const receiver = await tcp(keys.transfer);
    const region = new ArrayBuffer(4096);
    const d = await receiver.registerRegion('kv', region);
    for (const sender of [await tcp(ClusterKeys.ephemeral().transfer), await tcp()]) {
      const err = await sender.put(d, filled(16, 9), op(16)).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(TransferError);
    }
    expect(new Uint8Array(region).some((b) => b !== 0)).toBe(false);
    expect(receiver.refusedConnections).toBe(1); // the keyless sender fails on the challenge itself
  });
});
