/**
 * The prefills a worker is running, so a router whose client cancelled can ask it to stop one
 * (NATS `tandem.v1.prefill.abort.<worker>`). The answer decides who frees the decode worker's
 * reservation: a running prefill is aborted and frees it itself once its in-flight puts have
 * landed (kv.ready ok: false); a prefill this worker never started is tombstoned — a late call
 * for it is refused before it writes anything — so the router may free the blocks at once.
 */
export class PrefillRegistry {
  private readonly running = new Map<string, () => void>();
  private readonly tombstones = new Map<string, number>();

  constructor(private readonly tombstoneMs = 60_000) {}

  /** Registers a starting prefill; false when it was aborted before it started (refuse it). */
  start(requestId: string, abort: () => void): boolean {
    this.sweep();
    if (this.tombstones.has(requestId)) return false;
    this.running.set(requestId, abort);
    return true;
  }

  finish(requestId: string): void {
    this.running.delete(requestId);
  }

  /** Stops the prefill (true: it was running) or makes sure it never starts (false). */
  abort(requestId: string): boolean {
    const stop = this.running.get(requestId);
    if (stop) {
      stop();
      return true;
    }
    this.tombstones.set(requestId, Date.now() + this.tombstoneMs);
    return false;
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, until] of this.tombstones) if (until <= now) this.tombstones.delete(id);
  }
}
