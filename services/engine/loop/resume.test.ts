/**
 * Decode migration at the engine level: a request resumed on another engine with the tokens it
 * already generated continues exactly as the original would have — seeded sampling and
 * penalties included — and emits only the tokens after the resumed ones.
 */
import { describe, expect, it } from 'vitest';
import { makeSyntheticWeights } from '../reference/index.js';
import type { SamplingParams } from '../../protocol/request.js';
import { ModelRunner } from '../runner/model-runner.js';
import { Engine } from './engine.js';

const weights = makeSyntheticWeights({ family: 'ernie4_5', seed: 17, hiddenSize: 64, headDim: 16, vocabSize: 128, numLayers: 2 });
const engine = () => new Engine(new ModelRunner(weights, { numBlocks: 64, blockSize: 16, maxBatchTokens: 64, maxModelLen: 256 }), { eosTokenIds: [] });
const sampling: SamplingParams = { temperature: 0.9, topP: 0.95, topK: 0, minP: 0, presencePenalty: 0.4, frequencyPenalty: 0.3, repetitionPenalty: 1.1, seed: 1234, maxTokens: 24, stopTokenIds: [], ignoreEos: true };

async function run(e: Engine, resume?: number[]): Promise<{ tokens: number[]; completion: number }> {
  const tokens: number[] = [];
  let completion = 0;
  for await (const o of e.submit({ id: 'r', promptTokenIds: [3, 1, 4, 1, 5, 9, 2, 6], sampling, resumeOutputTokenIds: resume })) {
    tokens.push(...o.tokens.map((t) => t.tokenId));
    completion = o.completionTokens;
  }
  return { tokens, completion };
}

describe('resuming a request elsewhere (decode migration)', () => {
  it('continues with exactly the tokens the original run produced after the cut', async () => {
    const a = engine();
    const full = await run(a);
    expect(full.tokens).toHaveLength(24);
    for (const cut of [1, 7, 16]) {
      const b = engine();
      const rest = await run(b, full.tokens.slice(0, cut));
      expect(rest.tokens).toEqual(full.tokens.slice(cut));
      expect(rest.completion).toBe(24);
      await b.shutdown();
    }
    await a.shutdown();
  });

  it('refuses a resume that leaves nothing to generate', async () => {
    const e = engine();
    expect(() => e.submit({ id: 'x', promptTokenIds: [1, 2], sampling: { ...sampling, maxTokens: 2 }, resumeOutputTokenIds: [5, 6] })).toThrow(/nothing to generate/);
    await e.shutdown();
  });
});
