/**
 * Layer-wise KV push: a prefill-only request on engine P (chunked, so several forward steps) hands
 * each layer's finished blocks to KvPush as the forward pass reports them; the decode engine D's
 * reserved blocks end up byte-identical to P's, every block of every layer is sent exactly once,
 * and D's greedy continuation equals a unified engine's.
 */
import { describe, expect, it } from 'vitest';
import { Engine } from '../engine/loop/engine.js';
import { makeSyntheticWeights, seededRandom } from '../engine/reference/index.js';
import type { SamplingParams } from '../protocol/request.js';
import type { KvLayerProgress } from '../engine/request-types.js';
import { ModelRunner } from '../engine/runner/model-runner.js';
import { kvBlockRanges } from '../engine/kv/kv-block-ranges.js';
import { LocalTransferEngine } from '../transfer/local-backend.js';
import { KvPush, LEASE_SAFETY_MS, pushDeadline, type KvPushMode } from './kv-push.js';

const weights = makeSyntheticWeights({ family: 'ernie4_5', seed: 8, hiddenSize: 64, headDim: 16, vocabSize: 128, numLayers: 3 });
const greedy = (maxTokens: number): SamplingParams => ({ temperature: 0, topP: 1, topK: 0, minP: 0, presencePenalty: 0, frequencyPenalty: 0, repetitionPenalty: 1, maxTokens, stopTokenIds: [], ignoreEos: true });
// 24-token steps: a 70-token prompt prefills in three chunks, the first two ending mid-block.
const engine = (blocks: number) => new Engine(new ModelRunner(weights, { numBlocks: blocks, blockSize: 16, maxBatchTokens: 24, maxModelLen: 256 }), { eosTokenIds: [] });

async function tokensOf(s: AsyncIterable<{ tokens: { tokenId: number }[] }>): Promise<number[]> {
  const out: number[] = [];
  for await (const o of s) out.push(...o.tokens.map((t) => t.tokenId));
  return out;
}

async function pushRun(mode: KvPushMode, prompt: number[], decodeHolds: number[] = []) {
  const P = engine(64);
  const D = engine(96);
  const transfer = new LocalTransferEngine();
  const region = await transfer.registerRegion('kv-d', D.runner.kv.buffer);
  if (decodeHolds.length > 0) await tokensOf(D.submit({ id: 'warm', promptTokenIds: decodeHolds, sampling: greedy(1) }));
  const reserved = D.reserveBlocks(prompt)!;
  const push = new KvPush(transfer, P.runner.kv, { region, layout: D.runner.kv.layout, blockIds: reserved.blocks, fromBlock: reserved.cachedTokens / 16 });
  const progress: KvLayerProgress[] = [];
  let first = -1;
  let blocks: number[] = [];
  const stream = P.submit({
    id: 'p', promptTokenIds: prompt, sampling: greedy(1), prefillOnly: true,
    onKvWritten: mode === 'layerwise' ? (p) => { progress.push({ ...p }); push.onLayer(p); } : undefined,
  });
  for await (const o of stream) {
    if (o.tokens.length) first = o.tokens[0]!.tokenId;
    if (o.prefilledBlocks) blocks = o.prefilledBlocks;
  }
  const sent = await push.finish(blocks);
  // What D holds in the reserved suffix must equal what P computed, byte for byte.
  const src = new Uint8Array(P.runner.kv.buffer);
  const dst = new Uint8Array(D.runner.kv.buffer);
  let compared = 0;
  for (const layer of kvBlockRanges(P.runner.kv.layout, D.runner.kv.layout, blocks, reserved.blocks, reserved.cachedTokens / 16)) {
    for (const r of layer) {
      expect(Buffer.compare(src.subarray(r.srcOffset, r.srcOffset + r.length), dst.subarray(r.dstOffset, r.dstOffset + r.length))).toBe(0);
      compared += r.length;
    }
  }
  P.releaseBlocks(blocks);
  const rest = await tokensOf(D.submitPrefilled({ id: 'd', promptTokenIds: prompt, sampling: greedy(9) }, reserved.blocks, first));
  await Promise.all([P.shutdown(), D.shutdown()]);
  return { tokens: [first, ...rest], sent, compared, progress };
}

describe('KvPush (layer-wise KV hand-off to the decode worker)', () => {
  const r = seededRandom(3);
  const prompt = Array.from({ length: 70 }, () => Math.floor(r() * 128));
  const blockBytes = 16 * 2 * 16 * 2; // slots x kv heads x head dim x bf16, one plane

  it('pushes each layer as the prefill steps finish it: every block exactly once, bytes identical, output unchanged', async () => {
    const u = engine(64);
    const expected = await tokensOf(u.submit({ id: 'u', promptTokenIds: prompt, sampling: greedy(9) }));
    await u.shutdown();
    const res = await pushRun('layerwise', prompt);
    expect(res.tokens).toEqual(expected);
    // 3 steps x 3 layers of progress, layers in order within each step.
    expect(res.progress.map((p) => p.layer)).toEqual([0, 1, 2, 0, 1, 2, 0, 1, 2]);
    // Complete blocks after each step: floor(24/16)=1, floor(48/16)=3, then the whole prompt ceil(70/16)=5.
    expect(res.progress.filter((p) => p.layer === 0).map((p) => p.completeBlocks)).toEqual([1, 3, 5]);
    // One put per (step, layer) that completed new blocks; 5 blocks x 3 layers x (K + V) in all.
    expect(res.sent.puts).toBe(9);
    expect(res.sent.bytes).toBe(5 * 3 * 2 * blockBytes);
    expect(res.compared).toBe(res.sent.bytes);
  });

  it('after-prefill mode sends the same bytes in one put per layer', async () => {
    const res = await pushRun('after-prefill', prompt);
    expect(res.progress).toEqual([]);
    expect(res.sent.puts).toBe(3);
    expect(res.sent.bytes).toBe(5 * 3 * 2 * blockBytes);
  });

  it('past the lease deadline nothing is written: the push fails and the decode worker\'s blocks stay as they were', async () => {
    const P = engine(64);
    const D = engine(96);
    const transfer = new LocalTransferEngine();
    const region = await transfer.registerRegion('kv-d', D.runner.kv.buffer);
    const reserved = D.reserveBlocks(prompt)!;
    const before = Buffer.from(new Uint8Array(D.runner.kv.buffer));
    const push = new KvPush(transfer, P.runner.kv, { region, layout: D.runner.kv.layout, blockIds: reserved.blocks, fromBlock: 0, deadlineMs: performance.now() - 1 });
    let blocks: number[] = [];
    for await (const o of P.submit({ id: 'p', promptTokenIds: prompt, sampling: greedy(1), prefillOnly: true, onKvWritten: push.onLayer })) {
      if (o.prefilledBlocks) blocks = o.prefilledBlocks;
    }
    await expect(push.finish(blocks)).rejects.toThrow(/lease on these blocks runs out/);
    expect(Buffer.from(new Uint8Array(D.runner.kv.buffer)).equals(before)).toBe(true);
    expect(transfer.stats().transfers).toBe(0);
    P.releaseBlocks(blocks);
    await Promise.all([P.shutdown(), D.shutdown(), transfer.close()]);
  });

  it('the deadline keeps a safety margin of at most a tenth of the lease (none when the lease is unknown)', () => {
    expect(pushDeadline(0, 5000)).toBeUndefined();
    expect(pushDeadline(30_000, 5000)).toBe(5000 + 30_000 - LEASE_SAFETY_MS);
    expect(pushDeadline(2000, 5000)).toBe(5000 + 2000 - 200);
  });

  it('never sends the prefix the decode worker already holds', async () => {
    const res = await pushRun('layerwise', prompt, prompt.slice(0, 40));
    // D cached floor(40/16) = 2 full blocks; 3 of the 5 blocks travel.
    expect(res.sent.bytes).toBe(3 * 3 * 2 * blockBytes);
    expect(res.compared).toBe(res.sent.bytes);
  });
});
