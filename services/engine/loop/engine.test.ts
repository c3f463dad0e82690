import { describe, expect, it } from 'vitest';
import { makeSyntheticWeights, seededRandom } from '../reference/index.js';
import type { RequestOutput, SamplingParams } from '../../protocol/request.js';
import { ModelRunner } from '../runner/model-runner.js';
import { Engine } from './engine.js';
import { collect } from '../../../test/fixtures/collect-stream.js';

const weights = makeSyntheticWeights({ family: 'ernie4_5_moe', seed: 11, hiddenSize: 64, headDim: 16, vocabSize: 128, numLayers: 3 });
const VOCAB = 128;

function greedy(maxTokens: number, extra: Partial<SamplingParams> = {}): SamplingParams {
  return { temperature: 0, topP: 1, topK: 0, minP: 0, presencePenalty: 0, frequencyPenalty: 0, repetitionPenalty: 1, maxTokens, stopTokenIds: [], ignoreEos: true, ...extra };
}

function prompt(n: number, seed: number): number[] {
  const r = seededRandom(seed);
  return Array.from({ length: n }, () => Math.floor(r() * VOCAB));
}

function makeEngine(numBlocks: number, opts: { maxBatchTokens?: number; maxNumSeqs?: number } = {}) {
  const runner = new ModelRunner(weights, { numBlocks, blockSize: 16, maxBatchTokens: opts.maxBatchTokens ?? 256, maxModelLen: 512 });
  return new Engine(runner, { eosTokenIds: [2], maxNumSeqs: opts.maxNumSeqs ?? 64 });
}

/** Greedy decoding driven directly on a ModelRunner, without the engine. */
async function directGreedy(p: number[], n: number): Promise<number[]> {
  const runner = new ModelRunner(weights, { numBlocks: 64, blockSize: 16, maxBatchTokens: 256, maxModelLen: 512 });
  const table = Array.from({ length: 64 }, (_, i) => i);
  const out: number[] = [];
  let [logits] = await runner.forward([{ tokens: p, startPos: 0, blockTable: table, logits: 'last' }]);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let v = 1; v < VOCAB; v++) if (logits![v]! > logits![best]!) best = v;
    out.push(best);
    if (i + 1 < n) [logits] = await runner.forward([{ tokens: [best], startPos: p.length + i, blockTable: table, logits: 'last' }]);
  }
  return out;
}

describe('Engine', () => {
  it('greedy output equals the model driven directly, with usage and finish reason', async () => {
    const engine = makeEngine(64);
    const p = prompt(23, 1);
    const { tokens, last } = await collect(engine.submit({ id: 'r1', promptTokenIds: p, sampling: greedy(12) }));
    expect(tokens).toEqual(await directGreedy(p, 12));
    expect(last).toMatchObject({ finished: true, finishReason: 'length', promptTokens: 23, completionTokens: 12 });
    await engine.shutdown();
  });

  it('32 concurrent requests of mixed lengths each equal their solo output (chunked prefill + continuous batching)', async () => {
    const prompts = Array.from({ length: 32 }, (_, i) => prompt(1 + ((i * 13) % 70), 100 + i));
    const lengths = prompts.map((_, i) => 1 + ((i * 7) % 20));
    const solo = makeEngine(128);
    const expected: number[][] = [];
    for (let i = 0; i < prompts.length; i++) expected.push((await collect(solo.submit({ id: `s${i}`, promptTokenIds: prompts[i]!, sampling: greedy(lengths[i]!) }))).tokens);
    await solo.shutdown();
    const engine = makeEngine(256, { maxBatchTokens: 64 });
    const got = await Promise.all(prompts.map((p, i) => collect(engine.submit({ id: `c${i}`, promptTokenIds: p, sampling: greedy(lengths[i]!) }))));
    expect(got.map((g) => g.tokens)).toEqual(expected);
    expect(engine.stats().steps).toBeGreaterThan(10);
    await engine.shutdown();
  });

  it('with a deliberately small KV pool, preemption happens and every output still equals its solo output', async () => {
    const prompts = Array.from({ length: 6 }, (_, i) => prompt(20 + i * 3, 200 + i));
    const solo = makeEngine(64);
    const expected: number[][] = [];
    for (let i = 0; i < prompts.length; i++) expected.push((await collect(solo.submit({ id: `s${i}`, promptTokenIds: prompts[i]!, sampling: greedy(30) }))).tokens);
    await solo.shutdown();
    const engine = makeEngine(10); // 160 tokens of KV for 6 sequences of ~55 tokens each
    const got = await Promise.all(prompts.map((p, i) => collect(engine.submit({ id: `p${i}`, promptTokenIds: p, sampling: greedy(30) }))));
    expect(got.map((g) => g.tokens)).toEqual(expected);
    expect(engine.stats().preemptions).toBeGreaterThan(0);
    expect(engine.stats().kvUsage).toBe(0);
    await engine.shutdown();
  });

  it('seeded sampling is reproducible whatever else runs in the batch', async () => {
    const p = prompt(15, 3);
    const params = greedy(20, { temperature: 0.9, topP: 0.95, topK: 40, seed: 1234 });
    const a = makeEngine(64);
    const alone = (await collect(a.submit({ id: 'x', promptTokenIds: p, sampling: params }))).tokens;
    await a.shutdown();
    const b = makeEngine(128);
    const noise = Array.from({ length: 5 }, (_, i) => collect(b.submit({ id: `n${i}`, promptTokenIds: prompt(9 + i, 50 + i), sampling: { ...params, seed: i } })));
    const together = (await collect(b.submit({ id: 'x', promptTokenIds: p, sampling: params }))).tokens;
    await Promise.all(noise);
    expect(together).toEqual(alone);
    await b.shutdown();
  });

  it('abort frees the request\'s KV blocks at once and ends its stream', async () => {
    const engine = makeEngine(64);
    const stream = engine.submit({ id: 'long', promptTokenIds: prompt(40, 4), sampling: greedy(400) });
    const it = stream[Symbol.asyncIterator]();
    await it.next();
    await it.next();
    expect(engine.stats().kvUsage).toBeGreaterThan(0);
    stream.abort();
    expect(engine.stats().kvUsage).toBe(0);
    const rest: RequestOutput[] = [];
    for (let r = await it.next(); !r.done; r = await it.next()) rest.push(r.value);
    expect(rest.at(-1)).toMatchObject({ finished: true, finishReason: 'abort' });
    await engine.shutdown();
  });

  it('stops on a stop token id and on EOS unless ignore_eos', async () => {
    const engine = makeEngine(64);
    const p = prompt(10, 5);
    const free = (await collect(engine.submit({ id: 'a', promptTokenIds: p, sampling: greedy(8) }))).tokens;
    const stopAt = free[3]!;
    const { tokens, last } = await collect(engine.submit({ id: 'b', promptTokenIds: p, sampling: greedy(8, { stopTokenIds: [stopAt] }) }));
    expect(tokens).toEqual(free.slice(0, free.indexOf(stopAt) + 1));
    expect(last).toMatchObject({ finishReason: 'stop', stopTokenId: stopAt });
    await engine.shutdown();
  });

  it('refuses bad requests with errors naming the problem', () => {
    const engine = makeEngine(8);
    expect(() => engine.submit({ id: 'e', promptTokenIds: [], sampling: greedy(1) })).toThrow(/empty/);
    expect(() => engine.submit({ id: 'e', promptTokenIds: [VOCAB], sampling: greedy(1) })).toThrow(/outside the vocabulary/);
    expect(() => engine.submit({ id: 'e', promptTokenIds: prompt(100, 1), sampling: greedy(100) })).toThrow(/KV cache/);
    void engine.shutdown();
  });
});
