import { create } from '@bufbuild/protobuf';
import { randomInt } from 'node:crypto';
import { imageFromPb, pb, requestToPb, samplingFromPb } from '../protocol/wire.js';
import type { PromptImage } from '../protocol/prompt-image.js';
import type { SequenceRequest } from '../state/index.js';

/**
 * Pins the request's seed when it brought none: the engine would pick one per worker, so a
 * request resumed elsewhere (a migration, another router) would sample with another seed. With
 * it pinned and stored, seeded and unseeded sampling continue bit for bit.
 */
export function pinSeed(req: pb.GenerateRequest): void {
  req.sampling ??= create(pb.SamplingSchema, {});
  req.sampling.seed ??= randomInt(0, 2 ** 32);
}

/** What the sequence store keeps of a request so that any router can run it again. */
export function storedRequestOf(req: pb.GenerateRequest): SequenceRequest {
  const stored: SequenceRequest = { promptTokenIds: req.promptTokenIds, sampling: samplingFromPb(req.sampling), eosTokenIds: req.eosTokenIds };
  if (req.cacheSalt) stored.cacheSalt = req.cacheSalt;
  if (req.grammar !== undefined) stored.grammar = req.grammar;
  if (req.images.length) stored.images = req.images.map((i) => ({ mmHash: i.mmHash, offset: i.offset, tokenCount: i.tokenCount, grid: { t: i.gridT, h: i.gridH, w: i.gridW } }));
  return stored;
}

/**
 * The images a resuming caller sent again, if they are the stored request's (same hash, place and
 * size, in order), as the request's images with their pixels; otherwise why not.
 */
export function resentImages(stored: SequenceRequest, resent: readonly pb.Image[]): PromptImage[] | string {
  const want = stored.images ?? [];
  if (resent.length !== want.length) return `the request has ${want.length} image(s), the caller sent ${resent.length}`;
  const out: PromptImage[] = [];
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    const img = imageFromPb(resent[i]!);
    const same = img.mmHash === w.mmHash && img.offset === w.offset && img.tokenCount === w.tokenCount && img.grid.t === w.grid.t && img.grid.h === w.grid.h && img.grid.w === w.grid.w;
    if (!same) return `image ${i} differs from the stored request's`;
    if (!img.pixels?.length) return `image ${i} was sent without its pixels`;
    out.push(img);
  }
  return out;
}

/** The stored request as a worker's Generate request, resuming after `resumeTokens` (`images`: with their pixels). */
export function requestFromStore(id: string, stored: SequenceRequest, resumeTokens: number[], images?: PromptImage[]): pb.GenerateRequest {
  return requestToPb({ id, ...stored, ...(images ? { images } : {}), resumeOutputTokenIds: resumeTokens });
}
