import { create } from '@bufbuild/protobuf';
import { randomInt } from 'node:crypto';
import { pb, requestToPb, samplingFromPb } from '../protocol/wire.js';
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

/** The stored request as a worker's Generate request, resuming after `resumeTokens`. */
export function requestFromStore(id: string, stored: SequenceRequest, resumeTokens: number[]): pb.GenerateRequest {
  return requestToPb({ id, ...stored, resumeOutputTokenIds: resumeTokens });
}
