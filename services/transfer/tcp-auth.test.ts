/**
 * The TCP backend with a cluster key (TLS 1.3, the transfer key as pre-shared key): puts flow
 * between engines that share it; a connection that skips the handshake, or makes it with another
 * key, writes nothing; and what crosses the wire is not the KV bytes in clear.
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

describe('tcp transfer with the cluster key (TLS-PSK)', () => {
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
    socket.resume();
    socket.write(encodePutHeader(1, 'kv', op(64)));
    socket.write(Buffer.alloc(64, 0xee));
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
    // Both fail the handshake: the foreign key on the PSK binder, the keyless one by sending a put frame.
    expect(receiver.refusedConnections).toBe(2);
  });

  it('a keyed sender does not write to a receiver without the key, and says why', async () => {
    const receiver = await tcp();
    const region = new ArrayBuffer(4096);
    const d = await receiver.registerRegion('kv', region);
    const err = (await (await tcp(keys.transfer)).put(d, filled(16, 9), op(16)).then(() => undefined, (e: unknown) => e)) as TransferError;
    expect(err).toBeInstanceOf(TransferError);
    expect(err.message).toMatch(/TLS handshake|closed by the receiver/);
    expect(new Uint8Array(region).some((b) => b !== 0)).toBe(false);
  });

  it('the bytes on the wire are not the KV bytes in clear (captured through a TCP proxy)', async () => {
    const receiver = await tcp(keys.transfer);
    const sender = await tcp(keys.transfer);
    const region = new ArrayBuffer(1 << 16);
    const d = await receiver.registerRegion('kv', region);
    const wire: Buffer[] = [];
    const proxy = net.createServer((client) => {
      const upstream = net.connect({ host: d.endpoint['host'] as string, port: d.endpoint['port'] as number });
      client.on('data', (c: Buffer) => wire.push(Buffer.from(c)));
      client.pipe(upstream).pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    try {
      const viaProxy = { ...d, endpoint: { ...d.endpoint, port: (proxy.address() as net.AddressInfo).port } };
      // A recognisable KV payload: a counter pattern, and its region id and put header.
      const payload = new Uint8Array(1 << 15).map((_, i) => (i * 7 + 3) & 0xff);
      await sender.put(viaProxy, payload.buffer, op(payload.length, 1024));
      expect(new Uint8Array(region, 1024, payload.length)).toEqual(payload);
      const captured = Buffer.concat(wire);
      expect(captured.length).toBeGreaterThan(payload.length); // it all went through the proxy
      const window = Buffer.from(payload.subarray(4096, 4096 + 32));
      expect(captured.includes(window)).toBe(false);
      expect(captured.includes(encodePutHeader(1, 'kv', op(payload.length, 1024)).subarray(0, 12))).toBe(false);
      expect(captured.includes(Buffer.from('TDK1'))).toBe(false);
      // Without the key the same put is in clear (so the check above is not vacuous).
      wire.length = 0;
      const plainReceiver = await tcp();
      const plainRegion = new ArrayBuffer(1 << 16);
      const pd = await plainReceiver.registerRegion('kv', plainRegion);
      const plainProxy = net.createServer((client) => {
        const upstream = net.connect({ host: pd.endpoint['host'] as string, port: pd.endpoint['port'] as number });
        client.on('data', (c: Buffer) => wire.push(Buffer.from(c)));
        client.pipe(upstream).pipe(client);
      });
      await new Promise<void>((r) => plainProxy.listen(0, '127.0.0.1', r));
      await (await tcp()).put({ ...pd, endpoint: { ...pd.endpoint, port: (plainProxy.address() as net.AddressInfo).port } }, payload.buffer, op(payload.length, 1024));
      expect(Buffer.concat(wire).includes(window)).toBe(true);
      plainProxy.close();
    } finally {
      proxy.close();
    }
  });
});
