/**
 * The cluster's types survive the generated protobuf wire format unchanged: what the gateway
 * sends is what the worker's engine gets, absent optional fields stay absent (no sentinels), and
 * every finish reason and region descriptor round-trips through real binary encoding.
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { KvTargetSchema } from './gen/tandem/v1/worker_pb.js';
import type { RegionDescriptor } from './region.js';
import type { GenerationRequest, RequestOutput } from './request.js';
import { layoutFromPb, layoutToPb, outputFromPb, outputToPb, pb, regionFromPb, regionToPb, requestFromPb, requestToPb } from './wire.js';

const overWire = <T extends Parameters<typeof toBinary>[0]>(schema: T, msg: Parameters<typeof toBinary<T>>[1]) => fromBinary(schema, toBinary(schema, msg));

const sampling = { temperature: 0.7, topP: 0.9, topK: 2147483647, minP: 0.05, presencePenalty: -2, frequencyPenalty: 2, repetitionPenalty: 1.1, maxTokens: 17, stopTokenIds: [3, 9], ignoreEos: false };

describe('wire conversions (generated tandem.v1 types)', () => {
  it('a request round-trips: optional seed / logprobs stay absent or keep 0, images keep their pixels, EOS ids travel', () => {
    const pixels = new Float32Array([0.25, -1, 3.5, 0]);
    const cases: GenerationRequest[] = [
      { id: 'a', promptTokenIds: [1, 2, 3], sampling },
      { id: 'b', promptTokenIds: [5], sampling: { ...sampling, seed: 0, logprobs: 0 }, eosTokenIds: [2, 7], cacheSalt: 'tenant-1', resumeOutputTokenIds: [4, 4] },
      { id: 'c', promptTokenIds: [9, 9, 9, 9], sampling: { ...sampling, seed: 4294967295, logprobs: 20 }, images: [{ mmHash: 'ab'.repeat(32), offset: 1, tokenCount: 2, grid: { t: 1, h: 2, w: 4 }, pixels }] },
    ];
    for (const r of cases) {
      const back = requestFromPb(overWire(pb.GenerateRequestSchema, requestToPb(r)));
      expect(back).toEqual(r);
    }
  });

  it('a request without sampling settings is refused, not defaulted', () => {
    expect(() => requestFromPb(create(pb.GenerateRequestSchema, { requestId: 'x', promptTokenIds: [1] }))).toThrow(/sampling/);
  });

  it('outputs round-trip with every finish reason, logprobs and errors', () => {
    const outs: RequestOutput[] = [
      { requestId: 'r', tokens: [{ tokenId: 4 }], finished: false, promptTokens: 3, completionTokens: 1, cachedPromptTokens: 0 },
      ...(['stop', 'length', 'abort'] as const).map((finishReason) => ({ requestId: 'r', tokens: [], finished: true, finishReason, promptTokens: 3, completionTokens: 2, cachedPromptTokens: 16 })),
      { requestId: 'r', tokens: [{ tokenId: 1, logprob: -0.5, topLogprobs: [{ tokenId: 1, logprob: -0.5 }, { tokenId: 8, logprob: -1.25 }] }], finished: true, finishReason: 'error', error: 'boom', promptTokens: 1, completionTokens: 1, cachedPromptTokens: 0 },
    ];
    for (const o of outs) {
      const back = outputFromPb('r', overWire(pb.TokenChunkSchema, outputToPb(o)));
      expect(back).toEqual({ ...o, finishReason: o.finished ? o.finishReason : undefined, error: o.error });
    }
  });

  it('region descriptors and KV layouts are real messages that keep number and text endpoint fields apart', () => {
    const region: RegionDescriptor = { backend: 'tcp', regionId: 'kv-pool', size: 6 * 2 ** 32 + 5, endpoint: { host: '127.0.0.1', port: 40123, engine: 'e1' } };
    const layout = { layers: 4, numBlocks: 128, blockSize: 16, kvHeads: 2, headDim: 16, dtype: 'bf16' as const };
    const target = overWire(KvTargetSchema, create(KvTargetSchema, { workerId: 'd', leaseId: 'l', region: regionToPb(region), layout: layoutToPb(layout), blockIds: [3, 4], fromBlock: 1 }));
    expect(regionFromPb(target.region)).toEqual(region);
    expect(layoutFromPb(target.layout)).toEqual(layout);
    expect(() => regionFromPb(undefined)).toThrow(/region/);
  });
});
