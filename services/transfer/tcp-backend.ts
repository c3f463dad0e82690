/**
 * Pure-Node TCP backend. Every engine can receive: the first registerRegion starts a small
 * server (opts.host, default 127.0.0.1; opts.port, default 0 = ephemeral) that copies put
 * payloads straight from the socket chunks into the registered buffers. As a sender the engine
 * keeps one connection per receiver (host:port), writes each put as one frame (header with all
 * ranges, then the source ranges themselves — no copy on the sending side) and resolves on the
 * receiver's ack. Puts on one connection are pipelined; acks come back in order.
 *
 * With the cluster's transfer key (options.authKey) every connection is TLS 1.3 with that key as
 * a pre-shared key (tcp-tls.ts): a peer without the key fails the handshake before any put frame
 * is read, and the frames are encrypted on the wire (the sender's TLS layer then copies each
 * range once, into its records).
 */
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import os from 'node:os';
import tls from 'node:tls';
import { EngineBase } from './engine-base.js';
import { TransferError, type TransferErrorCode } from './errors.js';
import { AckDecoder, PutFrameDecoder, encodeAck, encodePutHeader, type ReceivingRegion } from './tcp-protocol.js';
import { HANDSHAKE_TIMEOUT_MS, pskClientOptions, pskServerOptions } from './tcp-tls.js';
import type { RegionDescriptor, RegionOptions, TransferEngineOptions, WriteOp } from './types.js';

const CONNECT_TIMEOUT_MS = 10_000;

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
}

/** One outgoing connection to a receiver. */
class PeerConnection {
  private readonly socket: net.Socket;
  private readonly waiters = new Map<number, Waiter>();
  private nextPutId = 1;
  private connected = false;
  /** With a cluster key: the TLS handshake completed (the receiver holds the key). */
  private secure = false;
  private failure: TransferError | undefined;

  constructor(
    readonly key: string,
    host: string,
    port: number,
    private readonly onGone: (conn: PeerConnection) => void,
    authKey?: Buffer,
  ) {
    // Writes issued before the connection (and, with a key, its TLS handshake) is up are queued
    // by the socket, in order.
    this.socket = authKey ? tls.connect({ host, port, ...pskClientOptions(authKey) }) : net.connect({ host, port });
    this.socket.setNoDelay(true);
    this.socket.setKeepAlive(true, 10_000);
    this.socket.setTimeout(CONNECT_TIMEOUT_MS, () => this.socket.destroy(new Error(`connect timed out after ${CONNECT_TIMEOUT_MS} ms`)));
    this.socket.once('connect', () => {
      this.connected = true;
      this.socket.setTimeout(0);
    });
    if (authKey) {
      // A receiver without the cluster key answers our ClientHello by closing, or not at all.
      const silent = setTimeout(() => this.socket.destroy(new TransferError('protocol', `tcp receiver ${key} did not complete the TLS handshake within ${HANDSHAKE_TIMEOUT_MS} ms (is it running without the cluster secret?)`)), HANDSHAKE_TIMEOUT_MS);
      silent.unref();
      this.socket.once('secureConnect', () => {
        this.secure = true;
        clearTimeout(silent);
      });
      this.socket.once('close', () => clearTimeout(silent));
    }
    const acks = new AckDecoder((putId, error) => this.settle(putId, error));
    this.socket.on('data', (chunk: Buffer) => {
      try {
        acks.push(chunk);
      } catch (err) {
        this.socket.destroy(err as Error);
      }
    });
    this.socket.on('error', (err) => {
      if (this.failure) return;
      if (err instanceof TransferError) this.failure = err;
      else if (!this.connected) this.failure = new TransferError('peer_unreachable', `cannot reach tcp receiver ${key}: ${err.message}`, { cause: err });
      else if (authKey && !this.secure) this.failure = new TransferError('protocol', `tcp receiver ${key} refused the TLS handshake (another cluster's key, or no cluster secret?): ${err.message}`, { cause: err });
      else this.failure = new TransferError('peer_failed', `tcp connection to ${key} failed: ${err.message}`, { cause: err });
    });
    this.socket.on('close', () => {
      this.failure ??= new TransferError('peer_failed', `tcp connection to ${key} was closed by the receiver`);
      for (const w of this.waiters.values()) w.reject(this.failure);
      this.waiters.clear();
      this.onGone(this);
    });
  }

  put(regionId: string, source: ArrayBuffer, ops: WriteOp[], grant: string | undefined): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    const putId = this.nextPutId;
    this.nextPutId = (this.nextPutId + 1) >>> 0 || 1;
    const done = new Promise<void>((resolve, reject) => this.waiters.set(putId, { resolve, reject }));
    if (this.waiters.size === 1) this.socket.ref(); // an idle connection must not keep the process alive
    // One synchronous burst per frame, so frames of concurrent puts never interleave; the
    // source ranges go to the socket as views (written with writev, not copied).
    this.socket.cork();
    this.socket.write(encodePutHeader(putId, regionId, ops, grant));
    for (const op of ops) this.socket.write(new Uint8Array(source, op.localOffset, op.length));
    this.socket.uncork();
    return done;
  }

  private settle(putId: number, error?: string): void {
    const w = this.waiters.get(putId);
    if (!w) {
      this.socket.destroy(new TransferError('protocol', `tcp receiver ${this.key} acknowledged an unknown put ${putId}`));
      return;
    }
    this.waiters.delete(putId);
    if (this.waiters.size === 0) this.socket.unref();
    if (error === undefined) {
      w.resolve();
      return;
    }
    const m = /^(unknown_region|out_of_range|not_granted): /.exec(error);
    const code: TransferErrorCode = m ? (m[1] as TransferErrorCode) : 'peer_failed';
    w.reject(new TransferError(code, `tcp receiver ${this.key} refused the put: ${m ? error.slice(m[0].length) : error}`));
  }

  close(): void {
    this.failure ??= new TransferError('closed', 'the tcp transfer engine is closed');
    this.socket.destroy();
  }
}

export class TcpTransferEngine extends EngineBase {
  readonly backend = 'tcp' as const;
  readonly enforcesGrants = true;
  readonly id = randomUUID();
  private readonly regions = new Map<string, ReceivingRegion>();
  private readonly peers = new Map<string, PeerConnection>();
  private readonly inbound = new Set<net.Socket>();
  private server: net.Server | undefined;
  private listening: Promise<{ host: string; port: number }> | undefined;
  /** Bytes / puts written into this engine's regions by remote senders. */
  readonly received = { bytes: 0, puts: 0, refused: 0 };
  /** Inbound connections dropped by the handshake (no or a wrong cluster key). */
  refusedConnections = 0;

  constructor(private readonly options: TransferEngineOptions = {}) {
    super(options.onTransfer);
  }

  /** Starts the receiver (idempotent); resolves with the address senders should dial. */
  listen(): Promise<{ host: string; port: number }> {
    this.listening ??= new Promise((resolve, reject) => {
      const key = this.options.authKey;
      let server: net.Server;
      if (key) {
        // Nothing of a connection reaches the put decoder before its TLS-PSK handshake succeeded.
        const secure = tls.createServer(pskServerOptions(key), (socket) => this.serve(socket));
        secure.on('connection', (raw: net.Socket) => this.track(raw));
        secure.on('tlsClientError', (err: Error & { code?: string }, socket) => {
          this.refusedConnections++;
          this.options.onAuthRefused?.(err.code === 'ERR_TLS_HANDSHAKE_TIMEOUT' ? 'handshake_timeout' : 'handshake_failed');
          socket.destroy();
        });
        server = secure;
      } else {
        server = net.createServer({ noDelay: true }, (socket) => {
          this.track(socket);
          this.serve(socket);
        });
      }
      this.server = server;
      server.once('error', reject);
      server.listen({ host: this.options.host ?? '127.0.0.1', port: this.options.port ?? 0 }, () => {
        server.off('error', reject);
        const addr = server.address() as net.AddressInfo;
        const wildcard = addr.address === '0.0.0.0' || addr.address === '::';
        resolve({ host: wildcard ? (this.options.advertiseHost ?? os.hostname()) : addr.address, port: addr.port });
      });
    });
    return this.listening;
  }

  async registerRegion(regionId: string, buffer: ArrayBuffer, options: RegionOptions = {}): Promise<RegionDescriptor> {
    this.checkRegionArgs(regionId, buffer);
    if (this.regions.has(regionId)) throw new TransferError('invalid_argument', `region '${regionId}' is already registered`);
    const { host, port } = await this.listen();
    this.assertOpen();
    this.regions.set(regionId, { bytes: new Uint8Array(buffer), guard: options.guard });
    return { backend: 'tcp', regionId, size: buffer.byteLength, endpoint: { host, port, engine: this.id } };
  }

  protected async write(remote: RegionDescriptor, source: ArrayBuffer, ops: WriteOp[], grant: string | undefined): Promise<void> {
    const { host, port } = remote.endpoint;
    if (typeof host !== 'string' || typeof port !== 'number' || !Number.isInteger(port) || port <= 0 || port > 65535) {
      throw new TransferError('bad_descriptor', `tcp region '${remote.regionId}' has no valid host/port`);
    }
    const key = `${host}:${port}`;
    let conn = this.peers.get(key);
    if (!conn) {
      conn = new PeerConnection(
        key,
        host,
        port,
        (gone) => {
          if (this.peers.get(gone.key) === gone) this.peers.delete(gone.key);
        },
        this.options.authKey,
      );
      this.peers.set(key, conn);
    }
    await conn.put(remote.regionId, source, ops, grant);
  }

  /** Keeps an inbound connection (the raw TCP socket) for shutdown. */
  private track(socket: net.Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    this.inbound.add(socket);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    socket.on('error', () => {});
    socket.on('close', () => this.inbound.delete(socket));
  }

  /** Reads put frames from an accepted (and, with a key, authenticated and encrypted) connection. */
  private serve(socket: net.Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    socket.on('error', () => {});
    const decoder = new PutFrameDecoder(
      (id) => this.regions.get(id),
      (putId, error, regionId) => {
        if (error) this.received.refused++;
        if (error?.startsWith('not_granted:')) this.options.onPutRefused?.(regionId);
        else this.received.puts++;
        socket.write(encodeAck(putId, error));
      },
    );
    let written = 0;
    const onData = (chunk: Buffer) => {
      try {
        decoder.push(chunk);
      } catch {
        socket.destroy(); // not our protocol: drop the connection
      }
      this.received.bytes += decoder.bytesWritten - written;
      written = decoder.bytesWritten;
    };
    socket.on('data', onData);
  }

  /** Open connections: inbound from senders, outbound to receivers. */
  connections(): { inbound: number; outbound: number } {
    return { inbound: this.inbound.size, outbound: this.peers.size };
  }

  protected async shutdown(): Promise<void> {
    for (const conn of this.peers.values()) conn.close();
    this.peers.clear();
    for (const s of this.inbound) s.destroy();
    this.inbound.clear();
    this.regions.clear();
    const server = this.server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
