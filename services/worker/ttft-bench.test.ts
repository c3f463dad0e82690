import { describe, expect, it } from 'vitest';
import { makeSyntheticWeights } from '../engine/reference/index.js';
import { benchTtftPush } from './ttft-bench.js';

describe('TTFT benchmark: prefill alone vs KV pushed after it vs layer by layer', () => {
  it('measures the three variants against a receiver in another process and moves the whole prompt KV', async () => {
    const weights = makeSyntheticWeights({ family: 'ernie4_5', seed: 4, hiddenSize: 64, headDim: 16, vocabSize: 128, numLayers: 3 });
    const r = await benchTtftPush({ weights, backend: 'tcp', promptTokens: 40, repeats: 2 });
    // 3 blocks x 3 layers x (K + V) x 16 slots x 2 KV heads x 16 dims x bf16.
    expect(r.kvBytes).toBe(3 * 3 * 2 * 16 * 2 * 16 * 2);
    for (const s of [r.prefillOnlySeconds, r.afterPrefillSeconds, r.layerwiseSeconds]) expect(s).toBeGreaterThan(0);
    expect(r.layerwiseAdded).toBeCloseTo((r.layerwiseSeconds - r.prefillOnlySeconds) / r.prefillOnlySeconds, 9);
  });
});
