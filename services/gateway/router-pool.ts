import * as grpc from '@grpc/grpc-js';

export type RouterClient = grpc.Client & Record<string, (...a: unknown[]) => unknown>;

/**
 * The routers one gateway may call (`--router a,b`): any of them can take any request, since
 * the sequence state lives in Redis and every router sees the same workers. New requests go
 * round-robin to routers whose channel is up; a request whose router is lost is resumed on
 * whichever router answers first, so with two routers a kill -9 of one costs its streams no more
 * than a reconnect to the other.
 */
export class RouterPool {
  private next = 0;

  constructor(readonly clients: readonly RouterClient[]) {
    if (clients.length === 0) throw new Error('RouterPool needs at least one router');
    // grpc-js connects lazily: without this a router nobody called yet never shows as ready.
    for (const c of clients) c.getChannel().getConnectivityState(true);
  }

  /** A router for a new request: round-robin over the connected ones, else over all of them. */
  pick(): RouterClient {
    const n = this.clients.length;
    for (let i = 0; i < n; i++) {
      const c = this.clients[(this.next + i) % n]!;
      // `true`: an idle channel (e.g. after its router came back) starts connecting again.
      if (c.getChannel().getConnectivityState(true) === grpc.connectivityState.READY) {
        this.next = (this.next + i + 1) % n;
        return c;
      }
    }
    const c = this.clients[this.next % n]!;
    this.next = (this.next + 1) % n;
    return c;
  }

  /**
   * Calls back with the first router whose channel is ready (connecting to all of them), or an
   * error when none is by `deadline`.
   */
  whenAnyReady(deadline: number, cb: (err: Error | undefined, client?: RouterClient) => void): void {
    let settled = false;
    let failures = 0;
    for (const c of this.clients) {
      c.waitForReady(deadline, (err?: Error) => {
        if (settled) return;
        if (!err) {
          settled = true;
          return cb(undefined, c);
        }
        if (++failures === this.clients.length) {
          settled = true;
          cb(err);
        }
      });
    }
  }

  close(): void {
    for (const c of this.clients) c.close();
  }
}
