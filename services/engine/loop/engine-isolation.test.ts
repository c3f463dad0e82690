/**
 * One request's failure inside an engine step must fail that request alone: the loop keeps
 * running and every other sequence of the batch completes with its solo output.
 */
import { describe, expect, it } from 'vitest';
import { makeSyntheticWeights, seededRandom } from '../reference/index.js';
import type { SamplingParams } from '../../protocol/request.js';
import { ModelRunner } from '../runner/model-runner.js';
import { Engine } from './engine.js';
import { collect } from '../../../test/fixtures/collect-stream.js';

const weights = makeSyntheticWeights({ family: 'ernie4_5', seed: 5, hiddenSize: 64, headDim: 16, vocabSize: 128, numLayers: 2 });

const greedy = (maxTokens: number): SamplingParams => ({
  temperature: 0, topP: 1, topK: 0, minP: 0, presencePenalty: 0, frequencyPenalty: 0, repetitionPenalty: 1, maxTokens, stopTokenIds: [], ignoreEos: true,
});

function prompt(n: number, seed: number): number[] {
  const r = seededRandom(seed);
  return Array.from({ length: n }, () => Math.floor(r() * 128));
}

const makeEngine = () => new Engine(new ModelRunner(weights, { numBlocks: 64, blockSize: 16, maxBatchTokens: 256, maxModelLen: 512 }), { eosTokenIds: [2] });

describe('Engine: a failing request fails alone', () => {
  it('refuses out-of-range sampling parameters at submit (never inside the step loop)', async () => {
    const engine = makeEngine();
    const bad: SamplingParams[] = [
      { ...greedy(4), topK: -2147483648 },
      { ...greedy(4), topP: 2 },
      { ...greedy(4), temperature: Number.NaN },
      { ...greedy(4), seed: -1 },
      { ...greedy(4), logprobs: 99 },
      { ...greedy(4), stopTokenIds: [1e9] },
    ];
    bad.forEach((sampling, i) => expect(() => engine.submit({ id: `bad${i}`, promptTokenIds: [1, 2, 3], sampling })).toThrow(RangeError));
    const { tokens } = await collect(engine.submit({ id: 'ok', promptTokenIds: [1, 2, 3], sampling: greedy(4) }));
    expect(tokens).toHaveLength(4);
    await engine.shutdown();
  });

  it('a request whose sampling throws mid-batch ends with an error; the batch and the loop go on', async () => {
    const solo = makeEngine();
    const prompts = [prompt(20, 1), prompt(7, 2), prompt(33, 3)];
    const want = [];
    for (const [i, p] of prompts.entries()) want.push((await collect(solo.submit({ id: `s${i}`, promptTokenIds: p, sampling: greedy(10) }))).tokens);
    await solo.shutdown();

    const engine = makeEngine();
    const streams = prompts.map((p, i) => engine.submit({ id: `r${i}`, promptTokenIds: p, sampling: greedy(10) }));
    // The poisoned request passes submit's check, then its parameters go bad while it runs
    // (as a bug or a corrupted message would make them): the sampler throws inside the step.
    const poisoned = { id: 'poison', promptTokenIds: prompt(12, 4), sampling: greedy(10) };
    const poisonStream = engine.submit(poisoned);
    poisoned.sampling.topK = -5;
    const [results, poison] = await Promise.all([Promise.all(streams.map(collect)), collect(poisonStream)]);
    expect(poison.last).toMatchObject({ finished: true, finishReason: 'error' });
    expect(poison.last.error).toMatch(/topK/);
    expect(results.map((r) => r.tokens)).toEqual(want);

    // The loop still serves.
    const after = await collect(engine.submit({ id: 'after', promptTokenIds: prompts[0]!, sampling: greedy(10) }));
    expect(after.tokens).toEqual(want[0]);
    expect(engine.stats().freeBlocks).toBe(engine.stats().numBlocks);
    await engine.shutdown();
  });
});
