import { describe, expect, it } from 'vitest';
import { BlockAllocator } from '../../../tools/bench/block-allocator.js';
import { SequenceBlocks } from '../../../tools/bench/sequence-blocks.js';
import type { TextFamily, TextModelWeights } from '../model-types.js';
import { makeSyntheticWeights, ReferenceModel, seededRandom } from '../reference/index.js';
import { ModelRunner } from './model-runner.js';

function prompt(n: number, vocab: number, seed: number): number[] {
  const r = seededRandom(seed);
  return Array.from({ length: n }, () => Math.floor(r() * vocab));
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[best]!) best = i;
  return best;
}

function bits(a: Float32Array): number[] {
  return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
}

const FAMILIES: TextFamily[] = ['ernie4_5', 'ernie4_5_moe'];
const weightsCache = new Map<TextFamily, TextModelWeights>();
function weights(family: TextFamily): TextModelWeights {
  if (!weightsCache.has(family)) {
    weightsCache.set(family, makeSyntheticWeights({ family, seed: 7, hiddenSize: 64, headDim: 16, vocabSize: 96, numLayers: 3 }));
  }
  return weightsCache.get(family)!;
}

describe.each(FAMILIES)('native forward vs the TypeScript oracle (%s)', (family) => {
  it.each(['bf16', 'fp32'] as const)('prefill and decode logits agree (%s KV cache)', async (kvDtype) => {
    const w = weights(family);
    const runner = new ModelRunner(w, { numBlocks: 64, blockSize: 16, kvDtype, maxBatchTokens: 64, maxModelLen: 256 });
    const alloc = new BlockAllocator(64);
    const oracle = new ReferenceModel(w, { kvDtype });
    // fp32 cache: only summation order differs (~1e-6). bf16 cache: a key whose last fp32 bits
    // differ may round to the neighbouring bf16 value, a 2^-8 relative step in that one element.
    const tolerance = kvDtype === 'fp32' ? 2e-5 : 2e-4;
    for (const len of [1, 15, 16, 17, 40]) {
      const p = prompt(len, w.config.vocabSize, len);
      const seq = new SequenceBlocks(alloc, 16);
      seq.reserve(len);
      const [native] = await runner.forward([{ tokens: p, startPos: 0, blockTable: seq.table, logits: 'all' }]);
      const ref = oracle.newSequence();
      const expected = ref.forward(p);
      const scale = Math.max(...Array.from(expected, Math.abs));
      expect(maxAbsDiff(native!, expected) / scale, `prefill len ${len}`).toBeLessThan(tolerance);
      // Decode 6 tokens after the prefill, feeding the oracle's greedy choice to both.
      let next = argmax(expected.subarray((len - 1) * w.config.vocabSize));
      for (let step = 0; step < 6; step++) {
        const pos = len + step;
        seq.reserve(pos + 1);
        const [dn] = await runner.forward([{ tokens: [next], startPos: pos, blockTable: seq.table, logits: 'last' }]);
        const de = ref.forward([next]);
        expect(maxAbsDiff(dn!, de) / scale, `decode step ${step} after ${len}`).toBeLessThan(tolerance);
        next = argmax(de);
      }
      seq.release();
    }
  });
});

describe.each(FAMILIES)('every kernel implementation runs the model (%s)', (family) => {
  it.each(['scalar', 'avx2', 'avx512'] as const)('%s forward agrees with the oracle', async (isa) => {
    const w = weights(family);
    const runner = new ModelRunner(w, { numBlocks: 8, blockSize: 16, maxBatchTokens: 64, maxModelLen: 128, isa });
    const p = prompt(19, w.config.vocabSize, 9);
    const [l] = await runner.forward([{ tokens: p, startPos: 0, blockTable: [0, 1], logits: 'all' }]);
    const expected = new ReferenceModel(w).newSequence().forward(p);
    const scale = Math.max(...Array.from(expected, Math.abs));
    expect(maxAbsDiff(l!, expected) / scale).toBeLessThan(2e-4);
  });
});

describe.each(FAMILIES)('determinism contract, bit-exact logits (%s)', (family) => {
  const bs = 16;

  async function solo(runner: ModelRunner, alloc: BlockAllocator, p: number[]) {
    const seq = new SequenceBlocks(alloc, bs);
    seq.reserve(p.length);
    const [l] = await runner.forward([{ tokens: p, startPos: 0, blockTable: seq.table, logits: 'all' }]);
    seq.release();
    return l!.slice();
  }

  it('a sequence alone equals the same sequence inside a batch of 8 others (prefill and decode)', async () => {
    const w = weights(family);
    const runner = new ModelRunner(w, { numBlocks: 128, blockSize: bs, maxBatchTokens: 256, maxModelLen: 256 });
    const alloc = new BlockAllocator(128);
    const target = prompt(21, w.config.vocabSize, 1);
    const alone = await solo(runner, alloc, target);
    const others = [3, 9, 17, 1, 30, 12, 5, 26].map((n, i) => prompt(n, w.config.vocabSize, 100 + i));
    const seqs = [...others.slice(0, 4), target, ...others.slice(4)].map((p) => {
      const s = new SequenceBlocks(alloc, bs);
      s.reserve(p.length + 1);
      return { p, s };
    });
    const outs = await runner.forward(seqs.map(({ p, s }) => ({ tokens: p, startPos: 0, blockTable: s.table, logits: 'all' as const })));
    expect(bits(outs[4]!)).toEqual(bits(alone));
    // Decode: one token for each, batched, vs the target decoding alone after a solo prefill.
    const nextTok = 5;
    const batched = await runner.forward(seqs.map(({ p, s }) => ({ tokens: [nextTok], startPos: p.length, blockTable: s.table, logits: 'last' as const })));
    const soloSeq = new SequenceBlocks(alloc, bs);
    soloSeq.reserve(target.length + 1);
    await runner.forward([{ tokens: target, startPos: 0, blockTable: soloSeq.table, logits: 'none' }]);
    const [soloDecode] = await runner.forward([{ tokens: [nextTok], startPos: target.length, blockTable: soloSeq.table, logits: 'last' }]);
    expect(bits(batched[4]!)).toEqual(bits(soloDecode!));
  });

  it.each([1, 7, 16])('whole prefill equals chunked prefill (chunks of %i)', async (chunk) => {
    const w = weights(family);
    const runner = new ModelRunner(w, { numBlocks: 64, blockSize: bs, maxBatchTokens: 64, maxModelLen: 256 });
    const alloc = new BlockAllocator(64);
    const p = prompt(37, w.config.vocabSize, 2);
    const whole = await solo(runner, alloc, p);
    const seq = new SequenceBlocks(alloc, bs);
    seq.reserve(p.length);
    const parts: Float32Array[] = [];
    for (let s = 0; s < p.length; s += chunk) {
      const [l] = await runner.forward([{ tokens: p.slice(s, s + chunk), startPos: s, blockTable: seq.table, logits: 'all' }]);
      parts.push(l!.slice());
    }
    const chunked = new Float32Array(whole.length);
    let off = 0;
    for (const part of parts) {
      chunked.set(part, off);
      off += part.length;
    }
    expect(bits(chunked)).toEqual(bits(whole));
  });

  it('a prefill whose prefix blocks come from the cache equals a fresh prefill', async () => {
    const w = weights(family);
    const runner = new ModelRunner(w, { numBlocks: 64, blockSize: bs, maxBatchTokens: 64, maxModelLen: 256 });
    const alloc = new BlockAllocator(64);
    const shared = prompt(32, w.config.vocabSize, 3); // two full blocks
    const a = [...shared, ...prompt(5, w.config.vocabSize, 4)];
    const b = [...shared, ...prompt(11, w.config.vocabSize, 5)];
    const fresh = await solo(runner, alloc, b);
    // Sequence a fills the prefix blocks; b reuses them and only computes its suffix.
    const seqA = new SequenceBlocks(alloc, bs);
    seqA.reserve(a.length);
    await runner.forward([{ tokens: a, startPos: 0, blockTable: seqA.table, logits: 'none' }]);
    const seqB = new SequenceBlocks(alloc, bs, seqA.table.slice(0, 2));
    seqB.reserve(b.length);
    const [suffix] = await runner.forward([{ tokens: b.slice(32), startPos: 32, blockTable: seqB.table, logits: 'all' }]);
    expect(bits(suffix!)).toEqual(bits(fresh.subarray(32 * w.config.vocabSize)));
  });
});

describe('ModelRunner input checks', () => {
  it('refuses a step over maxBatchTokens and a block table too short, and keeps working', async () => {
    const w = weights('ernie4_5');
    const runner = new ModelRunner(w, { numBlocks: 8, blockSize: 16, maxBatchTokens: 8, maxModelLen: 64 });
    await expect(runner.forward([{ tokens: prompt(9, 96, 1), startPos: 0, blockTable: [0], logits: 'last' }])).rejects.toThrow(/maxBatchTokens/);
    await expect(runner.forward([{ tokens: [1, 2], startPos: 15, blockTable: [0], logits: 'last' }])).rejects.toThrow(/needs 2 KV blocks/);
    await expect(runner.forward([{ tokens: [1000], startPos: 0, blockTable: [0], logits: 'last' }])).rejects.toThrow(/outside the vocabulary/);
    const [ok] = await runner.forward([{ tokens: [1, 2], startPos: 0, blockTable: [0], logits: 'last' }]);
    expect(ok!.length).toBe(96);
  });
});
