/**
 * The cluster's types ↔ the tandem.v1 protobuf messages generated from proto/ (protobuf-es,
 * services/protocol/gen/, `npm run gen:proto`). The only place that knows both shapes.
 */
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import type { KvLayout } from '../../kernels/ts/index.js';
import * as pb from './gen/tandem/v1/common_pb.js';
import type { PromptImage } from './prompt-image.js';
import type { RegionDescriptor, TransferBackend } from './region.js';
import type { FinishReason, GeneratedToken, GenerationRequest, RequestOutput, SamplingParams } from './request.js';

export { pb };
export type { ResumeRequest } from './gen/tandem/v1/router_pb.js';
export type TokenChunkInit = MessageInitShape<typeof pb.TokenChunkSchema>;

export function samplingToPb(s: SamplingParams): MessageInitShape<typeof pb.SamplingSchema> {
  return {
    temperature: s.temperature, topP: s.topP, topK: s.topK, minP: s.minP, presencePenalty: s.presencePenalty,
    frequencyPenalty: s.frequencyPenalty, repetitionPenalty: s.repetitionPenalty, seed: s.seed,
    maxTokens: s.maxTokens, stopTokenIds: s.stopTokenIds, ignoreEos: s.ignoreEos, logprobs: s.logprobs,
    logitBias: s.logitBias ?? {},
  };
}

// Sampling floats travel as proto doubles, so a worker samples with exactly the numbers the
// gateway validated (seeded sampling then matches the unified path bit for bit).
export function samplingFromPb(p: pb.Sampling | undefined): SamplingParams {
  if (!p) throw new RangeError('the request has no sampling settings');
  const s: SamplingParams = {
    temperature: p.temperature, topP: p.topP, topK: p.topK, minP: p.minP, presencePenalty: p.presencePenalty,
    frequencyPenalty: p.frequencyPenalty, repetitionPenalty: p.repetitionPenalty, seed: p.seed,
    maxTokens: p.maxTokens, stopTokenIds: [...p.stopTokenIds], ignoreEos: p.ignoreEos, logprobs: p.logprobs,
  };
  if (Object.keys(p.logitBias).length > 0) s.logitBias = { ...p.logitBias };
  return s;
}

export function requestToPb(r: GenerationRequest): pb.GenerateRequest {
  return create(pb.GenerateRequestSchema, {
    requestId: r.id, promptTokenIds: r.promptTokenIds, sampling: samplingToPb(r.sampling), cacheSalt: r.cacheSalt ?? '',
    images: (r.images ?? []).map(imageToPb), resumeOutputTokenIds: r.resumeOutputTokenIds ?? [], eosTokenIds: r.eosTokenIds ?? [],
    grammar: r.grammar,
  });
}

export function requestFromPb(p: pb.GenerateRequest | undefined): GenerationRequest {
  if (!p) throw new RangeError('the call carries no request');
  const r: GenerationRequest = { id: p.requestId, promptTokenIds: [...p.promptTokenIds], sampling: samplingFromPb(p.sampling), cacheSalt: p.cacheSalt || undefined };
  if (p.images.length) r.images = p.images.map(imageFromPb);
  if (p.resumeOutputTokenIds.length) r.resumeOutputTokenIds = [...p.resumeOutputTokenIds];
  if (p.eosTokenIds.length) r.eosTokenIds = [...p.eosTokenIds];
  if (p.grammar !== undefined) r.grammar = p.grammar;
  return r;
}

/** Images travel with their pixels only while someone still has to encode them. */
export function imageToPb(i: PromptImage): MessageInitShape<typeof pb.ImageSchema> {
  const pixels = i.pixels ? new Uint8Array(i.pixels.buffer, i.pixels.byteOffset, i.pixels.byteLength) : new Uint8Array(0);
  return { mmHash: i.mmHash, offset: i.offset, tokenCount: i.tokenCount, gridT: i.grid.t, gridH: i.grid.h, gridW: i.grid.w, pixels };
}

export function imageFromPb(p: pb.Image): PromptImage {
  const img: PromptImage = { mmHash: p.mmHash, offset: p.offset, tokenCount: p.tokenCount, grid: { t: p.gridT, h: p.gridH, w: p.gridW } };
  if (p.pixels.length > 0) {
    // Copy into an aligned buffer: the message's bytes may start at any offset.
    const bytes = new Uint8Array(p.pixels.length);
    bytes.set(p.pixels);
    img.pixels = new Float32Array(bytes.buffer);
  }
  return img;
}

export function tokenToPb(t: GeneratedToken): MessageInitShape<typeof pb.GeneratedTokenSchema> {
  return { tokenId: t.tokenId, logprob: t.logprob, topLogprobs: t.topLogprobs ?? [] };
}

export function tokenFromPb(p: pb.GeneratedToken): GeneratedToken {
  return p.logprob !== undefined ? { tokenId: p.tokenId, logprob: p.logprob, topLogprobs: p.topLogprobs.map((x) => ({ tokenId: x.tokenId, logprob: x.logprob })) } : { tokenId: p.tokenId };
}

const FINISH_TO_PB: Record<FinishReason, pb.FinishReason> = {
  stop: pb.FinishReason.STOP, length: pb.FinishReason.LENGTH, abort: pb.FinishReason.ABORT, error: pb.FinishReason.ERROR,
};
const FINISH_FROM_PB: Partial<Record<pb.FinishReason, FinishReason>> = Object.fromEntries(Object.entries(FINISH_TO_PB).map(([k, v]) => [v, k as FinishReason]));

export function outputToPb(o: RequestOutput): pb.TokenChunk {
  return create(pb.TokenChunkSchema, {
    tokens: o.tokens.map(tokenToPb), finished: o.finished, finishReason: o.finishReason ? FINISH_TO_PB[o.finishReason] : pb.FinishReason.UNSPECIFIED,
    promptTokens: o.promptTokens, completionTokens: o.completionTokens, cachedPromptTokens: o.cachedPromptTokens, error: o.error ?? '',
  });
}

export function outputFromPb(requestId: string, p: pb.TokenChunk): RequestOutput {
  return {
    requestId, tokens: p.tokens.map(tokenFromPb), finished: p.finished, finishReason: p.finished ? (FINISH_FROM_PB[p.finishReason] ?? 'stop') : undefined,
    promptTokens: p.promptTokens, completionTokens: p.completionTokens, cachedPromptTokens: p.cachedPromptTokens, error: p.error || undefined,
  };
}

export function regionToPb(r: RegionDescriptor): MessageInitShape<typeof pb.RegionSchema> {
  const endpoint: Record<string, MessageInitShape<typeof pb.EndpointValueSchema>> = {};
  for (const [k, v] of Object.entries(r.endpoint)) endpoint[k] = { value: typeof v === 'number' ? { case: 'number', value: v } : { case: 'text', value: v } };
  return { backend: r.backend, regionId: r.regionId, size: BigInt(r.size), endpoint };
}

export function regionFromPb(p: pb.Region | undefined): RegionDescriptor {
  if (!p) throw new RangeError('the transfer target has no region');
  const endpoint: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(p.endpoint)) if (v.value.case !== undefined) endpoint[k] = v.value.value;
  return { backend: p.backend as TransferBackend, regionId: p.regionId, size: Number(p.size), endpoint };
}

export function layoutToPb(l: KvLayout): MessageInitShape<typeof pb.KvLayoutSchema> {
  return { layers: l.layers, numBlocks: l.numBlocks, blockSize: l.blockSize, kvHeads: l.kvHeads, headDim: l.headDim, dtype: l.dtype };
}

export function layoutFromPb(p: pb.KvLayout | undefined): KvLayout {
  if (!p) throw new RangeError('the transfer target has no KV layout');
  return { layers: p.layers, numBlocks: p.numBlocks, blockSize: p.blockSize, kvHeads: p.kvHeads, headDim: p.headDim, dtype: p.dtype as KvLayout['dtype'] };
}
