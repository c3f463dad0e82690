import { describe, expect, it } from 'vitest';
import type { TextFamily, TextModelWeights } from '../model-types.js';
import { makeSyntheticWeights, seededRandom } from '../reference/index.js';
import type { Quantization } from '../../protocol/quantization.js';
import { ModelRunner } from './model-runner.js';

const FAMILIES: TextFamily[] = ['ernie4_5', 'ernie4_5_moe'];
const cache = new Map<TextFamily, TextModelWeights>();
// hidden 96 is not a multiple of the 128-element group: every row of every layer is padded.
function weights(family: TextFamily): TextModelWeights {
  if (!cache.has(family)) cache.set(family, makeSyntheticWeights({ family, seed: 3, hiddenSize: 96, headDim: 16, vocabSize: 128, numLayers: 2 }));
  return cache.get(family)!;
}
function prompt(n: number, vocab: number, seed: number): number[] {
  const r = seededRandom(seed);
  return Array.from({ length: n }, () => Math.floor(r() * vocab));
}
const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
function runner(w: TextModelWeights, quantization: Quantization, isa?: 'scalar' | 'avx2' | 'avx512') {
  return new ModelRunner(w, { numBlocks: 32, blockSize: 16, maxBatchTokens: 96, maxModelLen: 256, quantization, isa });
}
function relErr(a: Float32Array, b: Float32Array): number {
  let e = 0;
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    e += (a[i]! - b[i]!) ** 2;
    n += b[i]! ** 2;
  }
  return Math.sqrt(e / n);
}

describe.each(FAMILIES)('quantized weights in the native model (%s)', (family) => {
  it.each([['wint8', 0.03], ['wint4', 0.3]] as const)('%s logits stay near bf16 and are not bf16', async (q, bound) => {
    const w = weights(family);
    const p = prompt(40, w.config.vocabSize, 1);
    const [ref] = await runner(w, 'none').forward([{ tokens: p, startPos: 0, blockTable: [0, 1, 2], logits: 'all' }]);
    const [out] = await runner(w, q).forward([{ tokens: p, startPos: 0, blockTable: [0, 1, 2], logits: 'all' }]);
    const err = relErr(out!, ref!);
    expect(err).toBeGreaterThan(0);
    expect(err).toBeLessThan(bound);
  });

  it.each(['wint8', 'wint4'] as const)('%s keeps the determinism contract: batch and chunking change no bit', async (q) => {
    for (const isa of ['scalar', 'avx2', 'avx512'] as const) {
      const w = weights(family);
      const r = runner(w, q, isa);
      const a = prompt(37, w.config.vocabSize, 2);
      const b = prompt(21, w.config.vocabSize, 3);
      const [alone] = await r.forward([{ tokens: a, startPos: 0, blockTable: [0, 1, 2], logits: 'last' }]);
      // The same prompt next to another sequence, and again prefilled in two chunks.
      const [, batched] = await r.forward([
        { tokens: b, startPos: 0, blockTable: [3, 4], logits: 'last' },
        { tokens: a, startPos: 0, blockTable: [5, 6, 7], logits: 'last' },
      ]);
      await r.forward([{ tokens: a.slice(0, 20), startPos: 0, blockTable: [8, 9, 10], logits: 'none' }]);
      const [chunked] = await r.forward([{ tokens: a.slice(20), startPos: 20, blockTable: [8, 9, 10], logits: 'last' }]);
      expect(bits(batched!), isa).toEqual(bits(alone!));
      expect(bits(chunked!), isa).toEqual(bits(alone!));
    }
  });
});
