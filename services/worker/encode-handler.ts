import * as grpc from '@grpc/grpc-js';
import { grpcError } from '../common/grpc/grpc-error.js';
import { imageFromPb, regionFromPb, type pb } from '../protocol/wire.js';
import { traceEmbeddingTransfer, traceVisionEncode } from '../common/telemetry/index.js';
import type { TransferEngine } from '../transfer/transfer-engine.js';
import type { EncodeRequest } from '../protocol/gen/tandem/v1/worker_pb.js';
import type { EmbeddingInbox } from './embedding-inbox.js';
import type { ImageEncoder } from './image-encoder.js';
import type { PromptImage } from '../protocol/prompt-image.js';


/**
 * Worker.Encode on a Prefill-Vision worker: encode the images (its own encoder cache first), then
 * put each image's embeddings into the slot the prefill worker reserved for it.
 */
export function encodeHandler(encoder: ImageEncoder | undefined, transfer: TransferEngine) {
  return async (call: grpc.ServerUnaryCall<EncodeRequest, unknown>, cb: grpc.sendUnaryData<unknown>) => {
    if (!encoder) return cb(grpcError(grpc.status.FAILED_PRECONDITION, 'this worker serves a model without a vision encoder'));
    try {
      const images: PromptImage[] = call.request.images.map(imageFromPb);
      const t0 = performance.now();
      const imageTokens = images.reduce((n, i) => n + i.tokenCount, 0);
      await traceVisionEncode({ requestId: call.request.requestId, images: images.length, imageTokens }, async (span) => {
        const r = await encoder.resolve(images);
        span.setAttribute('tandem.vision.encoder_cache_hits', r.hits);
      });
      const encodeSeconds = (performance.now() - t0) / 1000;
      const target = call.request.target;
      if (!target) throw new RangeError('the encode request has no target');
      const slots = target.slots.map((s) => ({ mmHash: s.mmHash, offset: Number(s.offset), bytes: Number(s.bytes) }));
      // One source buffer holding every image's rows, one write op per slot.
      const total = slots.reduce((n, s) => n + s.bytes, 0);
      const source = new ArrayBuffer(total);
      const ops: Array<{ localOffset: number; remoteOffset: number; length: number }> = [];
      let at = 0;
      for (const s of slots) {
        const img = images.find((i) => i.mmHash === s.mmHash);
        if (!img?.embeddings) throw new Error(`no image ${s.mmHash.slice(0, 12)} in the request`);
        if (img.embeddings.byteLength !== s.bytes) throw new Error(`image ${s.mmHash.slice(0, 12)} has ${img.embeddings.byteLength} bytes of embeddings, the slot ${s.bytes}`);
        new Float32Array(source, at, img.embeddings.length).set(img.embeddings);
        ops.push({ localOffset: at, remoteOffset: s.offset, length: s.bytes });
        at += s.bytes;
      }
      const region = regionFromPb(target.region);
      const sent = ops.length
        ? await traceEmbeddingTransfer({ bytes: total, backend: transfer.backend, targetWorker: target.workerId }, () => transfer.put(region, source, ops, { grant: target.leaseId }))
        : { bytes: 0, seconds: 0 };
      cb(null, { images: images.length, sentBytes: sent.bytes, encodeSeconds, transferSeconds: sent.seconds, backend: transfer.backend });
    } catch (e) {
      cb(grpcError(grpc.status.INTERNAL, `encode failed: ${(e as Error).message}`));
    }
  };
}

/** On the prefill worker: the embeddings a vision worker wrote for this request become cache entries. */
export function adoptEmbeddings(inbox: EmbeddingInbox | undefined, encoder: ImageEncoder | undefined, leaseId: string, images: PromptImage[] | undefined): void {
  if (!leaseId || !inbox || !encoder || !images) return;
  const got = inbox.take(leaseId);
  if (!got) return; // expired: the worker encodes from the pixels the request still carries
  for (const g of got) {
    // A miss of this worker's cache, encoded by the vision worker (hits are counted by resolve()).
    encoder.cache.misses++;
    encoder.cache.put(g.mmHash, g.embeddings);
    for (const img of images) if (img.mmHash === g.mmHash) img.embeddings = g.embeddings;
  }
}
