import { BusClosedError, decodeJson, type Bus, type KeyValueBucket } from '../bus/index.js';
import { registryBucket, REGISTRY_TTL_MS, type WorkerRecord, type WorkerRole } from '../protocol/registry.js';

/** Pause before watching the registry again after a watch failed. */
const REWATCH_MS = 500;
/** How often the router's own bus connection is checked (heartbeats cannot arrive while it is down). */
const BUS_CHECK_MS = 100;

/**
 * The router's live view of the worker registry (a watch on the TTL bucket: dead workers expire).
 *
 * It survives the control plane failing. During a NATS outage records are kept (expiry is only
 * decided once the server answers again), so the router keeps serving on what it knew. Records
 * that vanished with the server's store, or that a failed watch may have missed changes of, are
 * kept on probation: used until their worker puts them again, dropped if it has not done so one
 * registry TTL later. A watch that fails (JetStream unreachable for long) is started again.
 */
export class RegistryView {
  private readonly workers = new Map<string, WorkerRecord>();
  /** When each worker's record last arrived (workers heartbeat every second). */
  private readonly seenAt = new Map<string, number>();
  /** Records on probation since when (see above). */
  private readonly unconfirmedSince = new Map<string, number>();
  /** The last moment this router's bus connection was seen down. */
  private busDownAt = 0;
  private busCheck: NodeJS.Timeout | undefined;
  private readonly ac = new AbortController();

  static async start(bus: Bus, cluster?: string): Promise<RegistryView> {
    const v = new RegistryView();
    const kv = await bus.keyValue(registryBucket(cluster), { ttlMs: REGISTRY_TTL_MS });
    for (const e of await kv.entries()) v.put(e.key, decodeJson<WorkerRecord>(e.value));
    void v.follow(kv);
    v.trackBus(bus);
    return v;
  }

  /** Silence is only counted while heartbeats could arrive: not while the router's own bus is down. */
  trackBus(bus: Pick<Bus, 'online'>): void {
    clearInterval(this.busCheck);
    this.busCheck = setInterval(() => {
      if (bus.online === false) this.busDownAt = Date.now();
    }, BUS_CHECK_MS);
    this.busCheck.unref();
  }

  /** Applies the bucket's changes; a watch that fails is replaced, its records put on probation. */
  async follow(kv: Pick<KeyValueBucket, 'watch'>): Promise<void> {
    for (let first = true; !this.ac.signal.aborted; first = false) {
      if (!first) {
        await new Promise((r) => setTimeout(r, REWATCH_MS));
        if (this.ac.signal.aborted) return;
        // What changed while no watch ran is unknown; the new watch replays what is there.
        for (const id of this.workers.keys()) this.unconfirm(id);
      }
      try {
        for await (const ev of kv.watch(this.ac.signal)) {
          if (ev.op === 'put' && ev.value) this.put(ev.key, decodeJson<WorkerRecord>(ev.value));
          else if (ev.op === 'delete' && ev.lost) this.unconfirm(ev.key);
          else if (ev.op === 'delete') this.drop(ev.key);
        }
      } catch (e) {
        if (e instanceof BusClosedError) return;
      }
    }
  }

  private put(id: string, record: WorkerRecord): void {
    this.workers.set(id, record);
    this.seenAt.set(id, Date.now());
    this.unconfirmedSince.delete(id);
  }

  private unconfirm(id: string): void {
    if (this.workers.has(id) && !this.unconfirmedSince.has(id)) this.unconfirmedSince.set(id, Date.now());
  }

  /**
   * Milliseconds since the worker's last heartbeat reached this router (Infinity if never). A
   * worker that is alive keeps heartbeating even while its kernels are busy (the heartbeat runs on
   * its event loop, the forward pass on native threads); a frozen (SIGSTOP) or wedged one does not.
   * While the router's own NATS connection is down no heartbeat can arrive, so silence counts from
   * its return (a NATS outage is not taken for frozen workers).
   */
  silentForMs(id: string): number {
    const t = this.seenAt.get(id);
    return t === undefined ? Infinity : Date.now() - Math.max(t, this.busDownAt);
  }

  all(): WorkerRecord[] {
    const now = Date.now();
    for (const [id, since] of this.unconfirmedSince) {
      if (now - since > REGISTRY_TTL_MS) this.drop(id);
    }
    return [...this.workers.values()];
  }

  byRole(role: WorkerRole): WorkerRecord[] {
    return this.all().filter((w) => w.role === role);
  }

  /** Marks a worker unusable until its next heartbeat (a call to it just failed). */
  forget(id: string): void {
    this.drop(id);
  }

  private drop(id: string): void {
    this.workers.delete(id);
    this.unconfirmedSince.delete(id);
  }

  stop(): void {
    this.ac.abort();
    clearInterval(this.busCheck);
  }
}
