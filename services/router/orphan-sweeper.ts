import { isTerminalState, SequenceTamperedError, type SequenceStore } from '../state/index.js';

export interface OrphanSweeperOptions {
  /** How often to look (default 10 s). */
  intervalMs?: number;
  /**
   * How long past its deadline an active record is left alone (default 30 s): by its deadline the
   * gateway has given the request up (it is the gRPC deadline of the call and of every resume),
   * so a record still active well after it belongs to a request no router carries any more.
   */
  graceMs?: number;
  /** Records failed per look at most (default 100; the rest wait for the next look). */
  batch?: number;
  onSwept?: (n: number) => void;
  onError?: (e: unknown) => void;
  now?: () => number;
}

export const ORPHAN_ERROR = 'orphaned: still active past its deadline with no router carrying it';

/**
 * Fails sequence records that nobody will finish: the router that ran them died and no gateway
 * asked another router to resume them before their deadline (the gateway died too, or gave up).
 * Without this they stayed "decoding" until their keys expired; now they end `failed` and
 * leave the active set. Every router may sweep: the move is a compare-and-set on the state the
 * sweeper read, so two routers never both count one record, and a record that moved meanwhile
 * is left to whoever moved it.
 */
export class OrphanSweeper {
  private readonly timer: NodeJS.Timeout;
  private running: Promise<number> | undefined;

  constructor(private readonly store: SequenceStore, private readonly o: OrphanSweeperOptions = {}) {
    this.timer = setInterval(() => void this.sweep(), o.intervalMs ?? 10_000);
    this.timer.unref();
  }

  /** One look (also what the timer runs); resolves with how many records it failed. */
  sweep(): Promise<number> {
    this.running ??= this.sweepOnce().finally(() => (this.running = undefined));
    return this.running;
  }

  private async sweepOnce(): Promise<number> {
    const now = (this.o.now ?? Date.now)();
    let swept = 0;
    try {
      const cutoff = now - (this.o.graceMs ?? 30_000);
      for (const id of await this.store.expired(cutoff, this.o.batch ?? 100)) {
        // A record whose tag fails (changed in Redis) is refused by the store and left alone here.
        const rec = await this.store.get(id).catch((e: unknown) => (e instanceof SequenceTamperedError ? undefined : Promise.reject(e)));
        // The active set's score is not under the record's tag: the deadline is taken from the record.
        if (!rec || isTerminalState(rec.state) || rec.deadlineMs > cutoff) continue;
        try {
          await this.store.transition(id, rec.state, 'failed', { error: ORPHAN_ERROR, nowMs: now });
          swept++;
        } catch {
          // Moved by someone else since we read it (another sweeper, a late router): theirs.
        }
      }
    } catch (e) {
      this.o.onError?.(e);
    }
    if (swept > 0) this.o.onSwept?.(swept);
    return swept;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
