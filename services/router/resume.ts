/**
 * Router.Resume: takes over a request whose router was lost mid-stream (killed, restarted, cut
 * off from the gateway), from the sequence store alone — no memory of the router that started it.
 *
 *   1. read the record, the stored request (prompt, sampling with its pinned seed, stop/EOS ids,
 *      max tokens) and the checkpointed tokens in one snapshot;
 *   2. claim the sequence: `<state> → prefilling` compare-and-set on the attempt read, so of two
 *      routers resuming it one wins (a record already finished or cancelled is replayed without
 *      writes: the caller lost the end of a stream that did complete);
 *   3. run it on a decode-capable worker as a migration does (decode-relay.ts): re-prefill prompt
 *      + the tokens the caller has, and continue with the same sampling state (the determinism
 *      contract makes the continuation the lost stream's tokens). The caller's token ids (the
 *      gateway sends them) extend the checkpoint, which must be their prefix; a caller that sends
 *      only a count resumes after r = min(delivered, checkpointed) stored tokens, and the tokens
 *      delivered beyond the checkpoint are generated again and dropped here. Either way the
 *      caller gets exactly the tokens after the ones it has.
 *
 * Refusals that end the request are marked final (`tandem-final`); a store that cannot be read
 * and a registry with no decode worker yet are not, so the gateway tries again.
 */
import * as grpc from '@grpc/grpc-js';
import { finalError, grpcError, isFinalError } from '../common/grpc/grpc-error.js';
import type { pb, ResumeRequest, TokenChunkInit } from '../protocol/wire.js';
import type { WorkerRecord } from '../protocol/registry.js';
import { IllegalTransitionError, isTerminalState, SequenceTamperedError, type SequenceSnapshot } from '../state/index.js';
import { endCall, failCall } from './call-end.js';
import { relayDecode, type TokenSink } from './decode-relay.js';
import { legContext } from './leg.js';
import { LeastLoadPolicy } from './policies/least-load.js';
import type { RouterDeps } from './router-deps.js';
import { SequenceLog } from './sequence-log.js';
import { requestFromStore, resentImages } from './stored-request.js';
import type { PromptImage } from '../protocol/prompt-image.js';

const leastLoaded = new LeastLoadPolicy();

export async function resume(d: RouterDeps, call: grpc.ServerWritableStream<ResumeRequest, TokenChunkInit>): Promise<void> {
  const { requestId, deliveredTokens, deliveredTokenIds, images: resent } = call.request;
  const { leg, legTrace, legOptions } = legContext(call);
  d.counters.inFlight++;
  let log: SequenceLog | undefined;
  try {
    const ids = deliveredTokenIds.length === deliveredTokens ? deliveredTokenIds : undefined;
    const taken = await takeOver(d, requestId, deliveredTokens, ids, resent);
    log = taken.log;
    d.counters.resumes = (d.counters.resumes ?? 0) + 1;
    const { snap, worker, resumeTokens } = taken;
    // Headers now: the caller knows its Resume reached a router that took the request.
    call.sendMetadata(new grpc.Metadata());
    const req = requestFromStore(requestId, snap.request!, resumeTokens, taken.images);
    const stream = leg.add(d.clients.get(worker.grpc).Generate(req, legTrace(), legOptions) as grpc.ClientReadableStream<pb.TokenChunk>);
    const sink = skipping(call, deliveredTokens - resumeTokens.length);
    const last = await relayDecode({ d, req, sink, leg, log, legTrace, legOptions }, stream, worker, resumeTokens, Math.min(resumeTokens.length, snap.tokens.length));
    endCall(call, log.move, leg, last);
  } catch (e) {
    if (log) failCall(call, log.move, leg, e);
    else if (!leg.cancelled) call.emit('error', isFinalError(e as grpc.ServiceError) ? e : grpcError(grpc.status.UNAVAILABLE, `cannot resume ${requestId} now: ${(e as Error).message}`));
  } finally {
    d.counters.inFlight--;
  }
}

interface TakeOver {
  snap: SequenceSnapshot;
  /** The request's images with the pixels the caller sent again (the store keeps none). */
  images?: PromptImage[];
  worker: WorkerRecord;
  log: SequenceLog;
  resumeTokens: number[];
}

async function takeOver(d: RouterDeps, id: string, delivered: number, deliveredIds: readonly number[] | undefined, resent: readonly pb.Image[]): Promise<TakeOver> {
  for (let tries = 0; ; tries++) {
    const snap = await d.store.snapshot(id).catch((e: unknown) => {
      // Changed in Redis by someone without the cluster secret: nothing in it can be trusted.
      if (e instanceof SequenceTamperedError) throw finalError(grpc.status.DATA_LOSS, `${e.message}; it cannot be resumed`);
      throw e;
    });
    if (!snap) throw finalError(grpc.status.NOT_FOUND, `sequence ${id} is not in the store (never recorded, or expired)`);
    const { record, request } = snap;
    if (!request) throw finalError(grpc.status.FAILED_PRECONDITION, `sequence ${id} was recorded without its request; it cannot be resumed`);
    let images: PromptImage[] | undefined;
    if (request.images?.length) {
      const got = resentImages(request, resent);
      if (typeof got === 'string') throw finalError(grpc.status.FAILED_PRECONDITION, `sequence ${id} has images, whose pixels are not stored, and the caller did not send them again: ${got}`);
      images = got;
    }
    if (record.state === 'failed') throw finalError(grpc.status.UNAVAILABLE, `sequence ${id} failed: ${record.error ?? 'no reason recorded'}`);
    const worker = pickWorker(d, record.workers.decode);
    if (!worker) throw grpcError(grpc.status.UNAVAILABLE, 'no decode worker in the registry');
    const resumeTokens = resumeFrom(d, id, snap.tokens, delivered, deliveredIds);
    const onError = (op: string, e: Error) => d.onStoreError?.(op, e);
    // Ended already (the caller lost only the end of its stream): replay it, recording nothing.
    if (isTerminalState(record.state)) return { snap, worker, resumeTokens, images, log: new SequenceLog(null, id, onError, record.state) };
    try {
      await d.store.transition(id, record.state, 'prefilling', {
        expectedAttempt: record.attempt,
        workers: { prefill: worker.id, decode: worker.id },
        error: `router lost; resumed after ${delivered} delivered tokens (${snap.tokens.length} checkpointed)`,
      });
    } catch (e) {
      if (!(e instanceof IllegalTransitionError)) throw e;
      // Moved between the read and the claim: ended (read again, and replay it), or another
      // router (or the one thought lost) is running it.
      if (tries === 0 && isTerminalState(e.actual)) continue;
      throw finalError(grpc.status.ABORTED, `sequence ${id} is being run by another router (it is ${e.actual})`);
    }
    const log = new SequenceLog(d.store, id, onError, 'prefilling');
    log.move('decoding');
    return { snap, worker, resumeTokens, images, log };
  }
}

/** The generated tokens to re-prefill: the caller's, checked against the checkpoint, or the checkpoint's first `delivered`. */
function resumeFrom(d: RouterDeps, id: string, stored: readonly number[], delivered: number, ids: readonly number[] | undefined): number[] {
  const overlap = Math.min(delivered, stored.length);
  if (!ids) return stored.slice(0, overlap);
  for (let i = 0; i < overlap; i++) {
    if (stored[i] !== ids[i]) {
      // The client has `ids`: its stream must go on from them, whatever the store says.
      d.onStoreError?.('resume', new Error(`sequence ${id}: checkpointed token ${i} is ${stored[i]}, the caller received ${ids[i]}`));
      break;
    }
  }
  return [...ids];
}

/** The sequence's last decode worker if it is still there (its prefix cache holds the context), else the least loaded. */
function pickWorker(d: RouterDeps, previous: string | undefined): WorkerRecord | undefined {
  const decoders = d.view.all().filter((w) => w.role === 'decode-text' || w.role === 'unified');
  return decoders.find((w) => w.id === previous) ?? leastLoaded.select(decoders);
}

/** Drops the first `n` tokens (the caller has them: they were delivered beyond the last checkpoint). */
function skipping(sink: TokenSink, n: number): TokenSink {
  let left = n;
  return {
    write(chunk: pb.TokenChunk) {
      if (left === 0) return sink.write(chunk);
      const drop = Math.min(left, chunk.tokens.length);
      left -= drop;
      const rest = { ...chunk, tokens: chunk.tokens.slice(drop) };
      return rest.tokens.length > 0 || rest.finished ? sink.write(rest) : true;
    },
  };
}
