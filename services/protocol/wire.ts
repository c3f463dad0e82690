/** Engine types ↔ tandem.v1 protobuf messages (as @grpc/proto-loader represents them). */
import type { GenerationRequest, FinishReason, GeneratedToken, RequestOutput, SamplingParams } from './request.js';
import type { PromptImage } from './prompt-image.js';

export interface PbSampling {
  temperature: number; topP: number; topK: number; minP: number; presencePenalty: number; frequencyPenalty: number;
  repetitionPenalty: number; hasSeed: boolean; seed: number; maxTokens: number; stopTokenIds: number[]; ignoreEos: boolean; logprobs: number;
}
export interface PbGeneratedToken { tokenId: number; hasLogprob: boolean; logprob: number; topLogprobs: Array<{ tokenId: number; logprob: number }> }
export interface PbImage { mmHash: string; offset: number; tokenCount: number; gridT: number; gridH: number; gridW: number; pixels: Buffer }
export interface PbGenerateRequest { requestId: string; promptTokenIds: number[]; sampling: PbSampling; cacheSalt: string; images?: PbImage[]; resumeOutputTokenIds?: number[]; eosTokenIds?: number[] }
export interface PbTokenChunk {
  tokens: PbGeneratedToken[]; finished: boolean; finishReason: string; promptTokens: number; completionTokens: number; cachedPromptTokens: number; error: string;
}

export function samplingToPb(s: SamplingParams): PbSampling {
  return {
    temperature: s.temperature, topP: s.topP, topK: s.topK, minP: s.minP, presencePenalty: s.presencePenalty,
    frequencyPenalty: s.frequencyPenalty, repetitionPenalty: s.repetitionPenalty, hasSeed: s.seed !== undefined, seed: s.seed ?? 0,
    maxTokens: s.maxTokens, stopTokenIds: s.stopTokenIds, ignoreEos: s.ignoreEos, logprobs: s.logprobs ?? -1,
  };
}

// Sampling floats travel as proto doubles, so a worker samples with exactly the numbers the
// gateway validated (seeded sampling then matches the unified path bit for bit).
export function samplingFromPb(p: PbSampling): SamplingParams {
  return {
    temperature: p.temperature, topP: p.topP, topK: p.topK, minP: p.minP, presencePenalty: p.presencePenalty,
    frequencyPenalty: p.frequencyPenalty, repetitionPenalty: p.repetitionPenalty, seed: p.hasSeed ? p.seed : undefined,
    maxTokens: p.maxTokens, stopTokenIds: [...p.stopTokenIds], ignoreEos: p.ignoreEos, logprobs: p.logprobs < 0 ? undefined : p.logprobs,
  };
}

export function requestToPb(r: GenerationRequest): PbGenerateRequest {
  return { requestId: r.id, promptTokenIds: r.promptTokenIds, sampling: samplingToPb(r.sampling), cacheSalt: r.cacheSalt ?? '', images: (r.images ?? []).map(imageToPb), eosTokenIds: r.eosTokenIds ?? [] };
}

export function requestFromPb(p: PbGenerateRequest): GenerationRequest {
  const r: GenerationRequest = { id: p.requestId, promptTokenIds: [...p.promptTokenIds], sampling: samplingFromPb(p.sampling), cacheSalt: p.cacheSalt || undefined };
  if (p.images?.length) r.images = p.images.map(imageFromPb);
  if (p.resumeOutputTokenIds?.length) r.resumeOutputTokenIds = [...p.resumeOutputTokenIds];
  if (p.eosTokenIds?.length) r.eosTokenIds = [...p.eosTokenIds];
  return r;
}

/** Images travel with their pixels only while someone still has to encode them. */
export function imageToPb(i: PromptImage): PbImage {
  const pixels = i.pixels ? Buffer.from(i.pixels.buffer, i.pixels.byteOffset, i.pixels.byteLength) : Buffer.alloc(0);
  return { mmHash: i.mmHash, offset: i.offset, tokenCount: i.tokenCount, gridT: i.grid.t, gridH: i.grid.h, gridW: i.grid.w, pixels };
}

export function imageFromPb(p: PbImage): PromptImage {
  const img: PromptImage = { mmHash: p.mmHash, offset: p.offset, tokenCount: p.tokenCount, grid: { t: p.gridT, h: p.gridH, w: p.gridW } };
  if (p.pixels && p.pixels.length > 0) {
    // Copy into an aligned buffer: the message's bytes may start at any offset.
    const bytes = new Uint8Array(p.pixels.length);
    bytes.set(p.pixels);
    img.pixels = new Float32Array(bytes.buffer);
  }
  return img;
}

export function tokenToPb(t: GeneratedToken): PbGeneratedToken {
  return { tokenId: t.tokenId, hasLogprob: t.logprob !== undefined, logprob: t.logprob ?? 0, topLogprobs: t.topLogprobs ?? [] };
}

export function tokenFromPb(p: PbGeneratedToken): GeneratedToken {
  return p.hasLogprob ? { tokenId: p.tokenId, logprob: p.logprob, topLogprobs: p.topLogprobs.map((x) => ({ tokenId: x.tokenId, logprob: x.logprob })) } : { tokenId: p.tokenId };
}

export function outputToPb(o: RequestOutput): PbTokenChunk {
  return {
    tokens: o.tokens.map(tokenToPb), finished: o.finished, finishReason: o.finishReason ?? '', promptTokens: o.promptTokens,
    completionTokens: o.completionTokens, cachedPromptTokens: o.cachedPromptTokens, error: o.error ?? '',
  };
}

export function outputFromPb(requestId: string, p: PbTokenChunk): RequestOutput {
  return {
    requestId, tokens: p.tokens.map(tokenFromPb), finished: p.finished, finishReason: p.finished ? ((p.finishReason || 'stop') as FinishReason) : undefined,
    promptTokens: p.promptTokens, completionTokens: p.completionTokens, cachedPromptTokens: p.cachedPromptTokens, error: p.error || undefined,
  };
}
