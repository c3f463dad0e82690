import type { WorkerRecord } from '../../protocol/registry.js';

/** What a routing policy may look at besides the workers. */
export interface RoutingRequest {
  requestId: string;
  promptTokenIds: readonly number[];
  cacheSalt?: string;
}

/**
 * One routing policy: picks a worker among healthy candidates (health filtering happens before).
 * Side-effect-free apart from its own cursor state, so policies are easy to test and swap.
 */
export interface RoutingPolicy {
  readonly name: string;
  select(workers: readonly WorkerRecord[], request: RoutingRequest): WorkerRecord | undefined;
}
