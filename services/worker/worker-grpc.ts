import * as grpc from '@grpc/grpc-js';
import { grpcError } from '../common/grpc/grpc-error.js';
import type { Bus } from '../bus/index.js';
import { encodeJson } from '../bus/index.js';
import { layoutFromPb, outputToPb, regionFromPb, requestFromPb, tokenToPb, type pb } from '../protocol/wire.js';
import type { DecodeRequest, PrefillRequest } from '../protocol/gen/tandem/v1/worker_pb.js';
import { annotateActiveSpan, ATTR, outgoingTraceparent } from '../common/telemetry/index.js';
import type { Engine } from '../engine/loop/engine.js';
import type { GeneratedToken, GenerationRequest, RequestStream } from '../protocol/request.js';
import type { TransferEngine } from '../transfer/transfer-engine.js';
import { KvPush, pushDeadline, type KvPushMode } from './kv-push.js';
import type { PrefillRegistry } from './prefill-registry.js';
import type { EmbeddingInbox } from './embedding-inbox.js';
import { adoptEmbeddings, encodeHandler } from './encode-handler.js';
import type { ImageEncoder } from './image-encoder.js';
import type { LeaseTable } from './leases.js';
import { submitWithImages } from './submit-with-images.js';
import { readySubject, type ReadyMessage, type WorkerRole } from '../protocol/registry.js';
import type { TransferMetrics } from './transfer-metrics.js';
import { traceKvTransfer } from './worker-tracing.js';

export interface WorkerServiceDeps {
  id: string;
  role: WorkerRole;
  engine: Engine;
  bus: Bus;
  transfer: TransferEngine;
  leases: LeaseTable;
  transferMetrics: TransferMetrics;
  /** Push KV layer by layer while the prefill computes (default), or all of it afterwards. */
  kvPushMode?: KvPushMode;
  /** VL models: encodes a prompt's images (or finds them in its cache) before prefill. */
  encoder?: ImageEncoder;
  /** Prefill workers of VL models: where Prefill-Vision workers leave image embeddings. */
  embeddingInbox?: EmbeddingInbox;
  /** Running prefills, abortable over NATS (prefill-registry.ts). */
  prefills: PrefillRegistry;
}


/**
 * Aborts the engine request when the call is cancelled — also when it was cancelled before the
 * handler ran (a router whose client left at once): no 'cancelled' event fires then, and the
 * request would run to max_tokens for nobody, holding its KV.
 */
function abortWhenCancelled(call: { readonly cancelled: boolean; on(event: 'cancelled', listener: () => void): unknown }, abort: () => void): void {
  call.on('cancelled', abort);
  if (call.cancelled) abort();
}

/** Streams an engine request's outputs into a server-streaming call; cancellation aborts it. */
async function pipe(call: grpc.ServerWritableStream<unknown, unknown>, stream: RequestStream): Promise<void> {
  abortWhenCancelled(call, () => stream.abort());
  try {
    for await (const o of stream) {
      if (call.cancelled) {
        stream.abort();
        break;
      }
      call.write(outputToPb(o));
    }
  } catch (e) {
    call.emit('error', grpcError(grpc.status.INTERNAL, (e as Error).message));
    return;
  }
  call.end();
}

/** The tandem.v1.Worker service of one worker process. */
export function workerHandlers(d: WorkerServiceDeps): grpc.UntypedServiceImplementation {
  return {
    Generate(call: grpc.ServerWritableStream<pb.GenerateRequest, unknown>) {
      let stream: RequestStream;
      try {
        stream = submitWithImages(d.engine, d.encoder, requestFromPb(call.request));
      } catch (e) {
        call.emit('error', grpcError(grpc.status.INVALID_ARGUMENT, (e as Error).message));
        return;
      }
      void pipe(call, stream);
    },

    Encode: encodeHandler(d.encoder, d.transfer),

    async Prefill(call: grpc.ServerUnaryCall<PrefillRequest, unknown>, cb: grpc.sendUnaryData<unknown>) {
      const t = call.request.target;
      if (!t) return cb(grpcError(grpc.status.INVALID_ARGUMENT, 'Prefill needs a KV target'));
      let req: GenerationRequest;
      try {
        req = requestFromPb(call.request.request);
      } catch (e) {
        return cb(grpcError(grpc.status.INVALID_ARGUMENT, (e as Error).message));
      }
      // The router may abort this prefill over NATS (its client cancelled); one it aborted before
      // the call arrived is refused here, before anything is written into the decode worker.
      let aborted = false;
      let stopStream: (() => void) | undefined;
      if (!d.prefills.start(req.id, () => ((aborted = true), stopStream?.()))) {
        return cb(grpcError(grpc.status.CANCELLED, `prefill of ${req.id} was aborted before it started`));
      }
      const trace = { traceparent: outgoingTraceparent(call.metadata.get('traceparent')[0]?.toString()) };
      let first: GeneratedToken | undefined;
      let blocks: number[] = [];
      let push: KvPush | undefined;
      try {
        push = new KvPush(d.transfer, d.engine.runner.kv, {
          region: regionFromPb(t.region),
          layout: layoutFromPb(t.layout),
          blockIds: t.blockIds,
          fromBlock: t.fromBlock,
          grant: t.leaseId,
          deadlineMs: pushDeadline(t.leaseMsLeft),
        });
        const layerwise = (d.kvPushMode ?? 'layerwise') === 'layerwise';
        adoptEmbeddings(d.embeddingInbox, d.encoder, call.request.embedLeaseId ?? '', req.images);
        const pushing = push;
        const stream = submitWithImages(d.engine, d.encoder, { ...req, id: `${req.id}:prefill`, prefillOnly: true, onKvWritten: layerwise ? pushing.onLayer : undefined });
        abortWhenCancelled(call, () => stream.abort());
        stopStream = () => stream.abort();
        if (aborted) stream.abort();
        for await (const o of stream) {
          if (o.tokens.length > 0) first = o.tokens[0];
          if (o.prefilledBlocks) blocks = o.prefilledBlocks;
          if (o.finished) annotateActiveSpan({ [ATTR.cachedTokens]: o.cachedPromptTokens });
          if (o.error) throw new Error(o.error);
        }
        if (!first || call.cancelled || aborted) throw new Error('prefill was cancelled');
        const sent = await pushing.finish(blocks);
        // Aborted while the last puts landed: nobody will take the lease, so free it (below).
        if (aborted || call.cancelled) throw new Error('prefill was cancelled');
        d.transferMetrics.record(d.transfer.backend, sent.bytes, sent.seconds);
        traceKvTransfer(sent, d.transfer.backend, layerwise, t.workerId);
        const ready: ReadyMessage = { leaseId: t.leaseId, requestId: req.id, ok: true };
        // Not awaited: the KV is in place (finish() waited for every put) and the Decode call
        // names the lease itself, so the first token need not wait for NATS.
        void d.bus.publish(readySubject(t.workerId), encodeJson(ready), { headers: trace }).catch(() => undefined);
        cb(null, { firstToken: tokenToPb(first), sentBytes: sent.bytes, transferSeconds: sent.seconds, backend: d.transfer.backend });
      } catch (e) {
        // Puts already issued must land before D hears of the failure and frees the blocks.
        await push?.settle();
        const ready: ReadyMessage = { leaseId: t.leaseId, requestId: req.id, ok: false, error: (e as Error).message };
        await d.bus.publish(readySubject(t.workerId), encodeJson(ready), { headers: trace }).catch(() => undefined);
        cb(grpcError(call.cancelled ? grpc.status.CANCELLED : grpc.status.INTERNAL, `prefill on ${d.id} failed: ${(e as Error).message}`));
      } finally {
        d.prefills.finish(req.id);
        if (blocks.length > 0) d.engine.releaseBlocks(blocks);
      }
    },

    Decode(call: grpc.ServerWritableStream<DecodeRequest, unknown>) {
      const lease = d.leases.take(call.request.leaseId);
      if (!lease) {
        call.emit('error', grpcError(grpc.status.NOT_FOUND, `lease ${call.request.leaseId} is unknown or expired on ${d.id}`));
        return;
      }
      let stream: RequestStream;
      try {
        stream = d.engine.submitPrefilled(requestFromPb(call.request.request), lease.blocks, call.request.firstTokenId);
      } catch (e) {
        d.engine.releaseBlocks(lease.blocks);
        call.emit('error', grpcError(grpc.status.INVALID_ARGUMENT, (e as Error).message));
        return;
      }
      void pipe(call, stream);
    },

    Health(_call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) {
      const s = d.engine.stats();
      cb(null, { workerId: d.id, role: d.role, running: s.running, waiting: s.waiting, kvUsage: s.kvUsage, freeBlocks: s.freeBlocks });
    },
  };
}
