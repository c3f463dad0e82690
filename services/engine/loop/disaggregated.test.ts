/**
 * The P/D mechanism inside one process: a prefill engine computes the prompt and samples the
 * first token, its KV blocks are copied into blocks the decode engine reserved (only the suffix
 * the decode engine does not already hold), and the decode engine continues. Outputs must be
 * bit-identical to a unified engine (greedy).
 */
import { describe, expect, it } from 'vitest';
import { kvBlockRanges } from '../kv/kv-block-ranges.js';
import { makeSyntheticWeights, seededRandom } from '../reference/index.js';
import type { SamplingParams } from '../../protocol/request.js';
import type { EngineRequest } from '../request-types.js';
import { ModelRunner } from '../runner/model-runner.js';
import { Engine } from './engine.js';

const weights = makeSyntheticWeights({ family: 'ernie4_5', seed: 21, hiddenSize: 64, headDim: 16, vocabSize: 128, numLayers: 3 });
const greedy = (maxTokens: number): SamplingParams => ({ temperature: 0, topP: 1, topK: 0, minP: 0, presencePenalty: 0, frequencyPenalty: 0, repetitionPenalty: 1, maxTokens, stopTokenIds: [], ignoreEos: true });
const engine = (blocks: number) => new Engine(new ModelRunner(weights, { numBlocks: blocks, blockSize: 16, maxBatchTokens: 256, maxModelLen: 512 }), { eosTokenIds: [] });

async function tokensOf(s: AsyncIterable<{ tokens: { tokenId: number }[] }>): Promise<number[]> {
  const out: number[] = [];
  for await (const o of s) out.push(...o.tokens.map((t) => t.tokenId));
  return out;
}

/** Prefill on P, copy KV suffix into D's reserved blocks, decode on D. */
async function disaggregated(P: Engine, D: Engine, req: EngineRequest): Promise<{ tokens: number[]; sentBlocks: number }> {
  const reserved = D.reserveBlocks(req.promptTokenIds)!;
  let first = -1;
  let pBlocks: number[] = [];
  for await (const o of P.submit({ ...req, prefillOnly: true })) {
    if (o.tokens.length) first = o.tokens[0]!.tokenId;
    if (o.prefilledBlocks) pBlocks = o.prefilledBlocks;
  }
  const fromBlock = reserved.cachedTokens / 16;
  const src = new Uint8Array(P.runner.kv.buffer);
  const dst = new Uint8Array(D.runner.kv.buffer);
  for (const layer of kvBlockRanges(P.runner.kv.layout, D.runner.kv.layout, pBlocks, reserved.blocks, fromBlock)) {
    for (const r of layer) dst.set(src.subarray(r.srcOffset, r.srcOffset + r.length), r.dstOffset);
  }
  P.releaseBlocks(pBlocks);
  const rest = await tokensOf(D.submitPrefilled(req, reserved.blocks, first));
  return { tokens: [first, ...rest], sentBlocks: reserved.blocks.length - fromBlock };
}

describe('disaggregated prefill → KV copy → decode (in process)', () => {
  it('20 prompts of varied lengths, some sharing prefixes, match unified greedy output bit for bit', async () => {
    const r = seededRandom(5);
    const shared = Array.from({ length: 40 }, () => Math.floor(r() * 128));
    const prompts = Array.from({ length: 20 }, (_, i) => {
      const own = Array.from({ length: 1 + ((i * 17) % 45) }, () => Math.floor(r() * 128));
      return i % 3 === 0 ? [...shared, ...own] : own;
    });
    const unified = engine(256);
    const expected: number[][] = [];
    for (let i = 0; i < prompts.length; i++) expected.push(await tokensOf(unified.submit({ id: `u${i}`, promptTokenIds: prompts[i]!, sampling: greedy(12) })));
    const P = engine(128);
    const D = engine(256);
    const got: number[][] = [];
    let saved = 0;
    for (let i = 0; i < prompts.length; i++) {
      const res = await disaggregated(P, D, { id: `d${i}`, promptTokenIds: prompts[i]!, sampling: greedy(12) });
      got.push(res.tokens);
      saved += Math.ceil(prompts[i]!.length / 16) - res.sentBlocks;
    }
    expect(got).toEqual(expected);
    // Prompts sharing the 40-token prefix found two cached blocks on D and were not sent again.
    expect(saved).toBeGreaterThan(0);
    expect(D.stats().kvUsage).toBe(0);
    expect(P.stats().kvUsage).toBe(0);
    await Promise.all([unified.shutdown(), P.shutdown(), D.shutdown()]);
  });

  it('kvBlockRanges merges runs of consecutive blocks and orders ranges layer by layer', () => {
    const layout = { layers: 2, numBlocks: 8, blockSize: 4, kvHeads: 1, headDim: 2, dtype: 'bf16' as const };
    const bigger = { ...layout, numBlocks: 12 };
    const per = kvBlockRanges(layout, bigger, [0, 1, 2, 5], [3, 4, 5, 7], 1);
    const blockBytes = 4 * 2 * 2;
    expect(per).toHaveLength(2);
    expect(per[0]!.map((r) => r.length)).toEqual([2 * blockBytes, blockBytes, 2 * blockBytes, blockBytes]);
    // Layer 1's K plane starts after two planes of each cache: 8 blocks in the source, 12 in the destination.
    expect(per[1]![0]!.srcOffset).toBe(2 * 8 * blockBytes + blockBytes);
    expect(per[1]![0]!.dstOffset).toBe(2 * 12 * blockBytes + 4 * blockBytes);
    expect(() => kvBlockRanges(layout, { ...layout, headDim: 4 }, [0], [0])).toThrow(/differ in headDim/);
  });
});
