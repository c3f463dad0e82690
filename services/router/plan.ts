import { legacyQuantLayout } from '../protocol/quantization.js';
import type { WorkerRecord } from '../protocol/registry.js';
import type { RoutingPolicy, RoutingRequest } from './policies/index.js';

export type StagePlan =
  | { kind: 'disaggregated'; decode: WorkerRecord; prefillCandidates: WorkerRecord[] }
  | { kind: 'single'; worker: WorkerRecord; reason: 'unified' | 'local-prefill' }
  | { kind: 'none'; reason: string };

export interface PlanOptions {
  /** Prompts shorter than this prefill on the decode worker (no transfer). */
  localPrefillBelow: number;
  /** A prefill pool whose every worker has at least this many queued+running requests counts as saturated. */
  prefillSaturation: number;
}

/**
 * P/D routing is configuration of one staged pipeline: which stages run where. Unified workers
 * do everything; decode workers prefill locally when the prompt is short or the prefill pool is
 * saturated or empty; otherwise a prefill worker computes the prompt and pushes its KV.
 */
export function planStages(workers: readonly WorkerRecord[], req: RoutingRequest, policy: RoutingPolicy, o: PlanOptions): StagePlan {
  const prefill = workers.filter((w) => w.role === 'prefill-text');
  const decode = workers.filter((w) => w.role === 'decode-text');
  const unified = workers.filter((w) => w.role === 'unified');
  if (decode.length === 0) {
    const u = policy.select(unified, req);
    return u ? { kind: 'single', worker: u, reason: 'unified' } : { kind: 'none', reason: 'no decode-capable worker is registered' };
  }
  const d = policy.select(decode, req)!;
  const saturated = prefill.every((p) => p.load.running + p.load.waiting >= o.prefillSaturation);
  if (prefill.length === 0 || req.promptTokenIds.length < o.localPrefillBelow || saturated) {
    return { kind: 'single', worker: d, reason: 'local-prefill' };
  }
  // Only prefill workers running the decode worker's exact weights with the same kernels may write
  // its KV (workers refuse to register with a different quantization; this covers records that
  // raced it). A cluster spread over CPUs of different instruction sets prefills locally across them.
  const matching = prefill.filter((p) => sameWeights(p, d) && (p.isa ?? '') === (d.isa ?? ''));
  if (matching.length === 0) return { kind: 'single', worker: d, reason: 'local-prefill' };
  const first = policy.select(matching, req)!;
  return { kind: 'disaggregated', decode: d, prefillCandidates: [first, ...matching.filter((p) => p.id !== first.id)] };
}

/** Whether two workers' text weights are quantized the same way (scheme, rotation, layout). */
function sameWeights(a: WorkerRecord, b: WorkerRecord): boolean {
  const q = (w: WorkerRecord) => w.quantization ?? 'none';
  return q(a) === q(b) && (a.quantRotation ?? 'none') === (b.quantRotation ?? 'none') &&
    (a.quantLayout ?? legacyQuantLayout(q(a))) === (b.quantLayout ?? legacyQuantLayout(q(b)));
}
