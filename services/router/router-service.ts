import * as grpc from '@grpc/grpc-js';
import { grpcError } from '../common/grpc/grpc-error.js';
import { BusError, decodeJson, encodeJson } from '../bus/index.js';
import { layoutToPb, pb, regionToPb, type TokenChunkInit } from '../protocol/wire.js';
import { cacheKeyTokens } from '../protocol/cache-key-tokens.js';
import { prefillAbortSubject, readySubject, reserveSubject, type PrefillAbortReply, type PrefillAbortRequest, type ReadyMessage, type ReserveReply, type ReserveRequest, type WorkerRecord } from '../protocol/registry.js';
import { planStages } from './plan.js';
import { SequenceLog } from './sequence-log.js';
import { tracePlan } from './router-tracing.js';
import { runVisionStage } from './vision-stage.js';
import { relayDecode } from './decode-relay.js';
import { endCall, failCall } from './call-end.js';
import { Leg, legContext } from './leg.js';
import { resume } from './resume.js';
import { pinSeed, storedRequestOf } from './stored-request.js';
import type { RouterDeps } from './router-deps.js';
import type { ResumeRequest } from '../protocol/wire.js';

export type { RouterDeps };


/** The tandem.v1.Router handlers. Generate: plan, reserve, prefill, decode, relay, record; Resume: resume.ts. */
export function routerHandlers(d: RouterDeps): grpc.UntypedServiceImplementation {
  return {
    async Generate(call: grpc.ServerWritableStream<pb.GenerateRequest, TokenChunkInit>) {
      const req = call.request;
      const { leg, legTrace, legOptions } = legContext(call);
      d.counters.inFlight++;
      // State is recorded beside the request, never in front of it (sequence-log.ts).
      const log = new SequenceLog(d.store, req.requestId, (op, e) => d.onStoreError?.(op, e), 'queued', () => {
        d.counters.stateRebuilds = (d.counters.stateRebuilds ?? 0) + 1;
      });
      const move = log.move;
      try {
        const deadlineMs = Number(call.getDeadline());
        // The record carries what any router needs to run the request again (resume.ts).
        pinSeed(req);
        log.create({ promptTokens: req.promptTokenIds.length, deadlineMs: Number.isFinite(deadlineMs) ? deadlineMs : Date.now() + 10 * 60_000, request: storedRequestOf(req) });
        // Prefix matching sees image tokens by mm_hash (the same key the workers' block hashes use).
        // Computed once per request (it hashes every image token): the plan and each kv.reserve use it.
        const key = cacheKeyOf(req);
        const plan = tracePlan(d.policy.name, () => planStages(d.view.all(), { requestId: req.requestId, promptTokenIds: key, cacheSalt: req.cacheSalt || undefined }, d.policy, d.plan));
        if (plan.kind === 'none') throw grpcError(grpc.status.UNAVAILABLE, plan.reason);
        let last: pb.TokenChunk | undefined;
        let single = plan.kind === 'single' ? plan.worker : undefined;
        if (plan.kind === 'single') {
          if (plan.reason === 'unified') d.counters.unified++;
          else d.counters.localPrefill++;
        } else {
          try {
            last = await disaggregated(d, req, key, plan.decode, plan.prefillCandidates, leg, call, log, legTrace, legOptions);
          } catch (e) {
            if (!(e instanceof ControlPlaneDown) || leg.cancelled) throw e;
            // NATS is down or restarting (or the decode worker is not back on it yet): the
            // decode worker prefills the prompt itself, over gRPC alone. Same tokens (§4).
            single = plan.decode;
            d.counters.localPrefill++;
            d.counters.busFallbacks = (d.counters.busFallbacks ?? 0) + 1;
          }
        }
        if (single) {
          move('decoding', { workers: { decode: single.id } });
          const stream = leg.add(d.clients.get(single.grpc).Generate(req, legTrace(), legOptions) as grpc.ClientReadableStream<pb.TokenChunk>);
          last = await relayDecode({ d, req, sink: call, leg, log, legTrace, legOptions }, stream, single, []);
        }
        endCall(call, move, leg, last);
      } catch (e) {
        failCall(call, move, leg, e);
      } finally {
        d.counters.inFlight--;
      }
    },

    Resume: (call: grpc.ServerWritableStream<ResumeRequest, TokenChunkInit>) => resume(d, call),

    Stats(_call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) {
      const ws = d.view.all();
      const decoders = ws.filter((w) => w.role === 'decode-text' || w.role === 'unified');
      cb(null, {
        running: ws.reduce((a, w) => a + w.load.running, 0),
        waiting: ws.reduce((a, w) => a + w.load.waiting, 0),
        kvUsage: decoders.length ? decoders.reduce((a, w) => a + w.load.kvUsage, 0) / decoders.length : 0,
        freeBlocks: decoders.reduce((a, w) => a + w.load.freeBlocks, 0),
        numBlocks: decoders.reduce((a, w) => a + w.layout.numBlocks, 0),
        workers: ws.length,
        preemptions: ws.reduce((a, w) => a + (w.load.preemptions ?? 0), 0),
        prefixCacheHitRate: hitRate(decoders),
      });
    },
  };
}

async function disaggregated(
  d: RouterDeps,
  req: pb.GenerateRequest,
  key: number[],
  decode: WorkerRecord,
  prefills: WorkerRecord[],
  leg: Leg,
  call: grpc.ServerWritableStream<pb.GenerateRequest, TokenChunkInit>,
  log: SequenceLog,
  legTrace: () => grpc.Metadata,
  legOptions: grpc.CallOptions,
): Promise<pb.TokenChunk | undefined> {
  // 1. The decode worker reserves blocks for the part of the prompt it does not hold yet.
  // 2. A prefill worker computes the prompt and pushes that KV suffix into them. When it fails,
  //    the retry on another prefill worker gets a fresh reservation: a prefill worker that is only
  //    unreachable (not dead) may still be writing into the first one, which is left to its lease.
  let first: pb.GeneratedToken | undefined;
  let reply: Extract<ReserveReply, { leaseId: string }> | undefined;
  let lastError: Error | undefined;
  const move = log.move;
  let transferStartMs = Date.now();
  for (const [attempt, p] of prefills.slice(0, 2).entries()) {
    const reservedAt = Date.now();
    reply = await reserveBlocks(d, req, key, decode, legTrace);
    if (attempt === 0) d.counters.disaggregated++;
    const target = {
      workerId: decode.id,
      leaseId: reply.leaseId,
      region: regionToPb(decode.region!),
      layout: layoutToPb(decode.layout),
      blockIds: reply.blockIds,
      fromBlock: Math.floor(reply.cachedTokens / decode.layout.blockSize),
    };
    // Images: the vision stage first (first attempt only; a retry's prefill worker encodes itself).
    const embedLeaseId = attempt === 0 ? await runVisionStage({ d, req, prefill: p, addCall: (c) => leg.add(c), move, legTrace, legOptions }) : '';
    if (leg.cancelled) {
      // No prefill worker has the target yet, so nothing can still write into the blocks.
      releaseLease(d, decode, req.requestId, reply.leaseId, 'the request was cancelled before its prefill', legTrace);
      throw grpcError(grpc.status.CANCELLED, 'the request was cancelled');
    }
    move('prefilling', { workers: { prefill: p.id, decode: decode.id } });
    // The lease runs from the reservation; what is left of it goes with the call (no clocks compared).
    const leaseMsLeft = Math.max(1, d.leaseMs - (Date.now() - reservedAt));
    try {
      const res = await new Promise<{ firstToken: pb.GeneratedToken; transferSeconds: number }>((resolve, reject) => {
        leg.add(d.clients.get(p.grpc).Prefill({ request: req, target: { ...target, leaseMsLeft }, embedLeaseId }, legTrace(), legOptions, (err: grpc.ServiceError | null, r: { firstToken: pb.GeneratedToken; transferSeconds: number }) => (err ? reject(err) : resolve(r))) as grpc.Call);
      });
      first = res.firstToken;
      // The push ran during the prefill (layer by layer) or after it: record `transferring` at the
      // moment it started, which the prefill worker reports as its duration.
      transferStartMs = Date.now() - Math.round(res.transferSeconds * 1000);
      break;
    } catch (e) {
      lastError = e as Error;
      if (leg.cancelled) {
        void abortPrefill(d, p, decode, req.requestId, reply.leaseId, legTrace);
        throw e;
      }
      d.view.forget(p.id);
      if (attempt === 0) d.counters.prefillRetries++;
    }
  }
  if (!first || !reply) throw grpcError(grpc.status.UNAVAILABLE, `prefill failed on every worker tried: ${lastError?.message}`);
  // The push has landed; from here a cancellation before the decode worker takes the lease
  // would strand its blocks until the lease expires, so give them back (a no-op once taken).
  const leaseId = reply.leaseId;
  let relayed = false;
  leg.onCancel(() => relayed || releaseLease(d, decode, req.requestId, leaseId, 'the request was cancelled', legTrace));
  move('transferring', { nowMs: transferStartMs });
  move('decoding');
  // 3. The first token goes out now; the decode worker streams the rest.
  call.write({ tokens: [first], finished: false, promptTokens: req.promptTokenIds.length, completionTokens: 1, cachedPromptTokens: reply.cachedTokens, error: '' });
  const stream = leg.add(d.clients.get(decode.grpc).Decode({ request: withoutPixels(req), leaseId: reply.leaseId, firstTokenId: first.tokenId }, legTrace(), legOptions) as grpc.ClientReadableStream<pb.TokenChunk>);
  try {
    return await relayDecode({ d, req, sink: call, leg, log, legTrace, legOptions }, stream, decode, [first.tokenId]);
  } finally {
    // A client that hangs up after the answer cancels nothing that still holds blocks.
    relayed = true;
  }
}

/**
 * Frees a KV reservation on the decode worker now instead of at lease expiry (kv.ready with
 * ok: false). Only safe when no prefill worker can still be writing into the blocks.
 */
function releaseLease(d: RouterDeps, decode: WorkerRecord, requestId: string, leaseId: string, why: string, legTrace: () => grpc.Metadata): void {
  const msg: ReadyMessage = { leaseId, requestId, ok: false, error: why };
  const traceparent = legTrace().get('traceparent')[0]!.toString();
  void d.bus.publish(readySubject(decode.id), encodeJson(msg), { headers: { traceparent } }).catch(() => undefined);
}

/**
 * The client cancelled during a Prefill call: the prefill worker stops it (and frees the
 * reservation itself once its puts have landed) or, if the call never reached it, promises never
 * to run it, and then the blocks can be freed now. No answer (the worker is gone or cut off):
 * the reservation is left to its lease, since an unreachable worker might still be writing.
 */
async function abortPrefill(d: RouterDeps, prefill: WorkerRecord, decode: WorkerRecord, requestId: string, leaseId: string, legTrace: () => grpc.Metadata): Promise<void> {
  try {
    const ask: PrefillAbortRequest = { requestId };
    const traceparent = legTrace().get('traceparent')[0]!.toString();
    const reply = decodeJson<PrefillAbortReply>((await d.bus.request(prefillAbortSubject(prefill.id), encodeJson(ask), { timeoutMs: 1000, headers: { traceparent } })).data);
    if (!reply.running) releaseLease(d, decode, requestId, leaseId, 'the request was cancelled before its prefill started', legTrace);
  } catch {
    // left to the lease
  }
}

/** The prompt as prefix caches key it: image placeholders replaced by mm_hash-derived words. */
function cacheKeyOf(req: pb.GenerateRequest): number[] {
  return req.images.length ? cacheKeyTokens(req.promptTokenIds, req.images) : req.promptTokenIds;
}

/** The decode leg needs where the images are (3-D positions), not their pixels. */
function withoutPixels(req: pb.GenerateRequest): pb.GenerateRequest {
  return req.images.length ? { ...req, images: req.images.map((i) => ({ ...i, pixels: new Uint8Array(0) })) } : req;
}

/**
 * The bus could not carry the reservation handshake to the decode worker: the router's NATS
 * connection is down, or the request went unanswered (server restarting, the worker not
 * resubscribed yet). Nothing was reserved that a prefill worker could write into; the request
 * can still run with the decode worker prefilling locally.
 */
class ControlPlaneDown extends Error {}

/** kv.reserve on the decode worker: blocks for the uncached suffix of the prompt, under a lease. */
async function reserveBlocks(d: RouterDeps, req: pb.GenerateRequest, key: number[], decode: WorkerRecord, legTrace: () => grpc.Metadata): Promise<Extract<ReserveReply, { leaseId: string }>> {
  // Known to be down: do not wait out a request timeout for it.
  if (d.bus.online === false) throw new ControlPlaneDown('the NATS connection is down');
  const reserve: ReserveRequest = { requestId: req.requestId, cacheKeyTokens: key, cacheSalt: req.cacheSalt || undefined, leaseMs: d.leaseMs };
  const traceparent = legTrace().get('traceparent')[0]!.toString();
  let answer;
  try {
    answer = await d.bus.request(reserveSubject(decode.id), encodeJson(reserve), { timeoutMs: 5000, headers: { traceparent } });
  } catch (e) {
    // A reservation whose reply was lost is left to its lease on the decode worker.
    throw e instanceof BusError ? new ControlPlaneDown(e.message, { cause: e }) : e;
  }
  const reply = decodeJson<ReserveReply>(answer.data);
  if ('error' in reply) throw grpcError(grpc.status.RESOURCE_EXHAUSTED, `decode worker ${decode.id}: ${reply.error}`);
  return reply;
}

/** Prompt tokens served from decode workers' prefix caches over prompt tokens they were asked for. */
function hitRate(workers: readonly WorkerRecord[]): number {
  const queried = workers.reduce((a, w) => a + (w.load.prefixQueriedTokens ?? 0), 0);
  return queried === 0 ? 0 : workers.reduce((a, w) => a + (w.load.prefixHitTokens ?? 0), 0) / queried;
}
