import type { Bus } from '../bus/index.js';
import type { SequenceStore } from '../state/index.js';
import type { PlanOptions } from './plan.js';
import type { RoutingPolicy } from './policies/index.js';
import type { RegistryView } from './registry-view.js';
import type { WorkerClients } from './worker-clients.js';

/** What the router's request handling works with (built by start-router.ts). */
export interface RouterDeps {
  bus: Bus;
  store: SequenceStore;
  view: RegistryView;
  clients: WorkerClients;
  policy: RoutingPolicy;
  plan: PlanOptions;
  leaseMs: number;
  /** A sequence-store write failed (it never fails the request; see sequence-log.ts). */
  onStoreError?: (op: string, e: Error) => void;
  /** Counters for Stats and metrics. */
  counters: { disaggregated: number; localPrefill: number; unified: number; prefillRetries: number; inFlight: number; migrations?: number; resumes?: number; busFallbacks?: number; stateRebuilds?: number };
}
