import { decodeJson, type Bus } from '../bus/index.js';
import { registryBucket, REGISTRY_TTL_MS, type WorkerRecord, type WorkerRole } from '../protocol/registry.js';

/** The router's live view of the worker registry (a watch on the TTL bucket: dead workers expire). */
export class RegistryView {
  private readonly workers = new Map<string, WorkerRecord>();
  /** When each worker's record last arrived (workers heartbeat every second). */
  private readonly seenAt = new Map<string, number>();
  private readonly ac = new AbortController();

  static async start(bus: Bus, cluster?: string): Promise<RegistryView> {
    const v = new RegistryView();
    const kv = await bus.keyValue(registryBucket(cluster), { ttlMs: REGISTRY_TTL_MS });
    for (const e of await kv.entries()) v.put(e.key, decodeJson<WorkerRecord>(e.value));
    void (async () => {
      for await (const ev of kv.watch(v.ac.signal)) {
        if (ev.op === 'put' && ev.value) v.put(ev.key, decodeJson<WorkerRecord>(ev.value));
        else if (ev.op === 'delete') v.workers.delete(ev.key);
      }
    })().catch(() => undefined);
    return v;
  }

  private put(id: string, record: WorkerRecord): void {
    this.workers.set(id, record);
    this.seenAt.set(id, Date.now());
  }

  /**
   * Milliseconds since the worker's last heartbeat reached this router (Infinity if never). A
   * worker that is alive keeps heartbeating even while its kernels are busy (the heartbeat runs on
   * its event loop, the forward pass on native threads); a frozen (SIGSTOP) or wedged one does not.
   */
  silentForMs(id: string): number {
    const t = this.seenAt.get(id);
    return t === undefined ? Infinity : Date.now() - t;
  }

  all(): WorkerRecord[] {
    return [...this.workers.values()];
  }

  byRole(role: WorkerRole): WorkerRecord[] {
    return this.all().filter((w) => w.role === role);
  }

  /** Marks a worker unusable until its next heartbeat (a call to it just failed). */
  forget(id: string): void {
    this.workers.delete(id);
  }

  stop(): void {
    this.ac.abort();
  }
}
