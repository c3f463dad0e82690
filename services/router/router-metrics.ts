import { Counter, Gauge, Registry } from 'prom-client';
import { REGISTRY_TTL_MS, WORKER_ROLES, type WorkerRecord } from '../protocol/registry.js';
import type { RouterDeps } from './router-service.js';

interface ViewLike {
  all(): WorkerRecord[];
  forget(id: string): void;
}

/**
 * The router's Prometheus metrics. The request path already keeps plain counters
 * (RouterDeps.counters); they are read at scrape time, so routing itself pays nothing.
 */
export class RouterMetrics {
  readonly registry = new Registry();
  /** Sequence-store writes that failed (by operation); they never fail the request. */
  readonly storeErrors = new Counter({
    name: 'tandem_router_state_write_errors_total',
    help: 'Sequence-store (Redis) writes that failed, by operation (create, a transition, checkpoint, resume); the request itself goes on.',
    labelNames: ['op'],
    registers: [this.registry],
  });
  /** Records failed by the orphan sweeper (orphan-sweeper.ts). */
  readonly orphansSwept = new Counter({
    name: 'tandem_router_orphans_swept_total',
    help: 'Sequence records still active well past their deadline that this router failed (their router died and nobody resumed them).',
    registers: [this.registry],
  });
  /** Workers the router dropped after a failed call, until they heartbeat again or expire. */
  private readonly unreachable = new Map<string, { role: string; atMs: number }>();

  constructor(counters: RouterDeps['counters'], private readonly view: ViewLike, policy: string) {
    const registers = [this.registry];
    const seen = { disaggregated: 0, local_prefill: 0, unified: 0 };
    new Counter({
      name: 'tandem_router_decisions_total',
      help: 'Stage plans made, by decision (disaggregated, local_prefill, unified) and routing policy.',
      labelNames: ['decision', 'policy'],
      registers,
      collect() {
        const now = { disaggregated: counters.disaggregated, local_prefill: counters.localPrefill, unified: counters.unified };
        for (const k of ['disaggregated', 'local_prefill', 'unified'] as const) {
          this.inc({ decision: k, policy }, now[k] - seen[k]);
          seen[k] = now[k];
        }
      },
    });
    // Plain counters the request path keeps, turned into Prometheus counters at scrape time.
    scrapedCounter('tandem_router_prefill_retries_total', 'Prefills retried on another prefill worker after the first one failed.', registers, () => counters.prefillRetries);
    scrapedCounter('tandem_router_state_rebuilds_total', 'Sequence records written again (create, transitions, checkpoints replayed) after the store lost them, e.g. Redis restarted without its data.', registers, () => counters.stateRebuilds ?? 0);
    scrapedCounter('tandem_router_bus_fallbacks_total', 'Disaggregated plans run with the decode worker prefilling locally because the KV reservation could not go over NATS (down, restarting, the worker not back on it).', registers, () => counters.busFallbacks ?? 0);
    scrapedCounter('tandem_router_migrations_total', 'Sequences moved to another decode worker after theirs was lost (re-prefill of prompt + generated tokens).', registers, () => counters.migrations ?? 0);
    scrapedCounter('tandem_router_resumes_total', 'Requests taken over from the sequence store after the router streaming them was lost (Router.Resume).', registers, () => counters.resumes ?? 0);
    new Gauge({
      name: 'tandem_router_requests_in_flight',
      help: 'Generate calls the router is serving now.',
      registers,
      collect() {
        this.set(counters.inFlight);
      },
    });
    const self = this;
    new Gauge({
      name: 'tandem_router_workers',
      help: 'Workers in the router\'s registry view, by role and health (healthy: heartbeating; unreachable: a call failed, dropped until its next heartbeat).',
      labelNames: ['role', 'health'],
      registers,
      collect() {
        const counts = self.workerCounts();
        this.reset();
        for (const [key, n] of counts) {
          const [role, health] = key.split('|') as [string, string];
          this.set({ role, health }, n);
        }
      },
    });
  }

  /** Call instead of view.forget: remembers the worker as unreachable for the workers gauge. */
  forgotten(id: string): void {
    const w = this.view.all().find((x) => x.id === id);
    if (w) this.unreachable.set(id, { role: w.role, atMs: Date.now() });
  }

  private workerCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const role of WORKER_ROLES) for (const health of ['healthy', 'unreachable']) counts.set(`${role}|${health}`, 0);
    const live = this.view.all();
    const liveIds = new Set(live.map((w) => w.id));
    for (const w of live) counts.set(`${w.role}|healthy`, (counts.get(`${w.role}|healthy`) ?? 0) + 1);
    for (const [id, u] of this.unreachable) {
      // Back in the view (heartbeat resumed) or gone from the registry for good: no longer counted.
      if (liveIds.has(id) || Date.now() - u.atMs > REGISTRY_TTL_MS) this.unreachable.delete(id);
      else counts.set(`${u.role}|unreachable`, (counts.get(`${u.role}|unreachable`) ?? 0) + 1);
    }
    return counts;
  }
}

/** Makes `view.forget` also report the worker to the metrics (the request path calls forget on a failed leg). */
export function trackForgottenWorkers<V extends ViewLike>(view: V, metrics: RouterMetrics): V {
  const forget = view.forget.bind(view);
  view.forget = (id: string) => {
    metrics.forgotten(id);
    forget(id);
  };
  return view;
}

/** A counter whose value is a plain number the request path increments, read at each scrape. */
function scrapedCounter(name: string, help: string, registers: Registry[], read: () => number): void {
  let seen = 0;
  new Counter({
    name,
    help,
    registers,
    collect() {
      const now = read();
      this.inc(now - seen);
      seen = now;
    },
  });
}
