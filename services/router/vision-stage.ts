import * as grpc from '@grpc/grpc-js';
import { BusError, decodeJson, encodeJson, type BusMessage } from '../bus/index.js';
import { regionToPb, type pb } from '../protocol/wire.js';
import type { MoveFn } from './sequence-log.js';
import { embReserveSubject, type EmbReserveReply, type EmbReserveRequest, type WorkerRecord } from '../protocol/registry.js';
import { LeastLoadPolicy } from './policies/least-load.js';
import type { RouterDeps } from './router-deps.js';

const leastLoaded = new LeastLoadPolicy();

export interface VisionStageContext {
  d: RouterDeps;
  req: pb.GenerateRequest;
  prefill: WorkerRecord;
  addCall: (c: grpc.Call) => void;
  move: MoveFn;
  legTrace: () => grpc.Metadata;
  legOptions: grpc.CallOptions;
}

/**
 * Stage 1 of a multimodal request (DESIGN §1): ask the chosen prefill worker which images its
 * encoder cache lacks and where they should land (emb.reserve), have a Prefill-Vision worker
 * encode those and put the embeddings there, and return the inbox lease for the Prefill call.
 * Returns '' when there is nothing to do (text only, all images cached, no vision pool) or the
 * vision worker failed or NATS could not carry emb.reserve (down, restarting): the prefill worker
 * then encodes from the pixels the request carries, so a vision-pool or control-plane failure
 * costs time, never the request.
 */
export async function runVisionStage(c: VisionStageContext): Promise<string> {
  const { d, req, prefill } = c;
  if (!req.images?.length || !prefill.embRegion) return '';
  const unique = [...new Map(req.images.map((i) => [i.mmHash, i])).values()];
  const ask: EmbReserveRequest = { requestId: req.requestId, images: unique.map((i) => ({ mmHash: i.mmHash, tokenCount: i.tokenCount })), leaseMs: d.leaseMs };
  if (d.bus.online === false) return '';
  let answer: BusMessage;
  try {
    answer = await d.bus.request(embReserveSubject(prefill.id), encodeJson(ask), { timeoutMs: 5000, headers: { traceparent: c.legTrace().get('traceparent')[0]!.toString() } });
  } catch (e) {
    if (e instanceof BusError) return '';
    throw e;
  }
  const reply = decodeJson<EmbReserveReply>(answer.data);
  if ('error' in reply) return '';
  if (reply.slots.length === 0) return reply.leaseId; // every image is in the prefill worker's encoder cache
  const v = leastLoaded.select(d.view.byRole('prefill-vision'));
  if (!v) return '';
  c.move('encoding', { workers: { vision: v.id } });
  const wanted = new Set(reply.slots.map((s) => s.mmHash));
  const request = {
    requestId: req.requestId,
    images: unique.filter((i) => wanted.has(i.mmHash)),
    target: { workerId: prefill.id, leaseId: reply.leaseId, region: regionToPb(prefill.embRegion!), slots: reply.slots },
  };
  try {
    await new Promise((resolve, reject) => {
      c.addCall(d.clients.get(v.grpc).Encode(request, c.legTrace(), c.legOptions, (err: grpc.ServiceError | null, r: unknown) => (err ? reject(err) : resolve(r))) as grpc.Call);
    });
    return reply.leaseId;
  } catch {
    d.view.forget(v.id);
    return '';
  }
}
