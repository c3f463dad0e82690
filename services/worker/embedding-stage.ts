import { decodeJson, encodeJson, type Bus } from '../bus/index.js';
import type { RegionDescriptor, TransferEngine } from '../transfer/transfer-engine.js';
import { EmbeddingInbox } from './embedding-inbox.js';
import type { ImageEncoder } from './image-encoder.js';
import { embReserveSubject, type EmbReserveReply, type EmbReserveRequest } from '../protocol/registry.js';

export interface EmbeddingStage {
  inbox: EmbeddingInbox;
  region: RegionDescriptor;
  close(): void;
}

/**
 * The receiving end of the Prefill-Vision → Prefill-Text hand-off on a prefill-capable worker
 * of a VL model: a registered inbox region, and the emb.reserve handler that tells the router
 * which images this worker's encoder cache already holds (hits: no vision stage at all) and
 * where a vision worker should write the others (misses).
 */
export async function startEmbeddingStage(o: { id: string; bus: Bus; transfer: TransferEngine; encoder: ImageEncoder; inboxBytes?: number }): Promise<EmbeddingStage> {
  const bytes = o.inboxBytes ?? 64 * 1024 * 1024;
  // UCX reaches memory it allocated itself by shared memory (see ADR 0009); other backends don't mind.
  let inbox: EmbeddingInbox | undefined;
  const { buffer, descriptor } = await o.transfer.allocateRegion(`emb-${o.id}`, bytes, {
    guard: (grant, ranges) => (inbox ? inbox.guard(grant, ranges) : 'the embedding inbox is still starting'),
  });
  inbox = new EmbeddingInbox(buffer);
  const sub = o.bus.subscribe(embReserveSubject(o.id));
  void (async () => {
    for await (const msg of sub) {
      let reply: EmbReserveReply;
      try {
        const r = decodeJson<EmbReserveRequest>(msg.data);
        const cached = r.images.filter((i) => o.encoder.cache.has(i.mmHash)).map((i) => i.mmHash);
        const missing = r.images.filter((i) => !cached.includes(i.mmHash));
        const rowBytes = o.encoder.hiddenSize * 4;
        const got = inbox.reserve(missing.map((i) => ({ mmHash: i.mmHash, bytes: i.tokenCount * rowBytes })), r.leaseMs);
        reply = got ? { leaseId: got.leaseId, cached, slots: got.slots } : { error: 'no room for the image embeddings' };
      } catch (e) {
        reply = { error: (e as Error).message };
      }
      await o.bus.respond(msg, encodeJson(reply)).catch(() => undefined);
    }
  })();
  return { inbox: inbox!, region: descriptor, close: () => sub.unsubscribe() };
}
