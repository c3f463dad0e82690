import { ErrorCode, Events, type MsgHdrs, type NatsConnection } from 'nats';
import { BusError } from './errors.js';

/** Go's client holds 8 MiB while reconnecting; so do we. */
const DEFAULT_BACKLOG_BYTES = 8 * 1024 * 1024;

interface Pending {
  subject: string;
  data: Uint8Array;
  headers: MsgHdrs | undefined;
  size: number;
}

/**
 * Tracks whether the NATS connection is up and holds publishes while it is not.
 *
 * nats.js reconnects on its own and re-sends subscriptions, but it empties its outbound buffer
 * on every dial attempt, so anything published during an outage longer than one attempt would
 * be lost. While the link is down publishes go to a bounded backlog here instead, replayed in
 * order right after the reconnect (before newer publishes). What was already on the wire when
 * the server died is gone: core NATS is at-most-once.
 */
export class NatsLink {
  private up = true;
  private readonly backlog: Pending[] = [];
  private backlogBytes = 0;
  private readonly waiters = new Set<() => void>();
  private readonly reconnectListeners = new Set<() => void>();
  private readonly disconnectListeners = new Set<() => void>();
  private readonly refused = new Set<string>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly maxBacklogBytes = DEFAULT_BACKLOG_BYTES,
  ) {
    void this.follow();
  }

  get online(): boolean {
    return this.up && !this.nc.isClosed();
  }

  get closed(): boolean {
    return this.nc.isClosed();
  }

  /** Calls `listener` after every reconnect (backlog already replayed); answers the unsubscribe. */
  onReconnect(listener: () => void): () => void {
    this.reconnectListeners.add(listener);
    return () => this.reconnectListeners.delete(listener);
  }

  /** Calls `listener` when the connection drops (the client starts reconnecting); answers the unsubscribe. */
  onDisconnect(listener: () => void): () => void {
    this.disconnectListeners.add(listener);
    return () => this.disconnectListeners.delete(listener);
  }

  publish(subject: string, data: Uint8Array, headers: MsgHdrs | undefined): void {
    if (this.up && this.backlog.length === 0) {
      this.nc.publish(subject, data, headers ? { headers } : undefined);
      return;
    }
    const size = subject.length + data.byteLength + (headers ? headers.toString().length : 0);
    if (this.backlogBytes + size > this.maxBacklogBytes) {
      throw new BusError(`NATS is unreachable and the reconnect buffer (${this.maxBacklogBytes} bytes) is full; dropped a message to '${subject}'`);
    }
    // Copy: the caller may reuse its buffer long before the server is back.
    this.backlog.push({ subject, data: data.slice(), headers, size });
    this.backlogBytes += size;
  }

  /** Resolves true once the connection is up (at once if it is), false at the deadline (epoch ms) or on close. */
  waitOnline(deadline: number): Promise<boolean> {
    if (this.online) return Promise.resolve(true);
    if (this.nc.isClosed()) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve(this.online);
      };
      // No deadline (Infinity) means no timer: setTimeout would clamp it to 1 ms.
      const timer = Number.isFinite(deadline) ? setTimeout(done, Math.max(0, deadline - Date.now())) : undefined;
      this.waiters.add(done);
    });
  }

  private async follow(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === Events.Disconnect) {
        this.up = false;
        for (const listener of [...this.disconnectListeners]) listener();
      }
      else if (s.type === Events.Error && s.data === ErrorCode.PermissionsViolation) this.permissionDenied((s as { permissionContext?: { operation: string; subject: string } }).permissionContext);
      else if (s.type === Events.Reconnect) {
        this.replay();
        this.up = true;
        this.wake();
        for (const listener of [...this.reconnectListeners]) listener();
      }
    }
    this.wake();
  }

  /**
   * The server refused a publish or subscription (subject permissions, deploy/nats/): said once
   * per subject on stderr, since the publisher never learns it otherwise (a refused publish is
   * dropped, a refused subscription just never delivers).
   */
  private permissionDenied(ctx: { operation: string; subject: string } | undefined): void {
    const what = ctx ? `${ctx.operation} to '${ctx.subject}'` : 'an operation';
    if (this.refused.has(what)) return;
    this.refused.add(what);
    process.stderr.write(`[tandem] NATS permissions refuse ${what} for this connection's user (see deploy/nats/nats-server.conf)\n`);
  }

  private replay(): void {
    while (this.backlog.length > 0) {
      const m = this.backlog.shift()!;
      this.backlogBytes -= m.size;
      this.nc.publish(m.subject, m.data, m.headers ? { headers: m.headers } : undefined);
    }
    this.backlogBytes = 0;
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}
