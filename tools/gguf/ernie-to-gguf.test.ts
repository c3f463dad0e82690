import { mkdtempSync, openSync, readSync, closeSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bf16Matrix, TextModelWeights } from '../../services/engine/model-types.js';
import { ModelRunner } from '../../services/engine/runner/model-runner.js';
import { bf16ArrayToF32 } from '../../services/engine/weights/dtype.js';
import { loadTextModelWeights } from '../../services/engine/weights/load-text-weights.js';
import { generateCheckpoint } from '../gen/gen-model.js';
import { GGUF_FORMATS, writeErnieGguf, type GgufFormat } from './ernie-to-gguf.js';
import { GgmlType } from './gguf-constants.js';
import { loadNodeLlamaCpp } from './node-llama-cpp.js';
import { quantizeQ4_0, quantizeQ8_0 } from './quantize-blocks.js';

let dir: string;
let weights: TextModelWeights;
const files = {} as Record<GgufFormat, string>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tandem-gguf-'));
  const model = join(dir, 'ernie-tiny');
  await generateCheckpoint({ family: 'ernie4_5', size: 'tiny', outDir: model, seed: 0, weightScale: 1.5 });
  weights = await loadTextModelWeights(model);
  for (const f of GGUF_FORMATS) {
    files[f] = join(dir, `tiny-${f}.gguf`);
    writeErnieGguf({ weights, dir: model, out: files[f], format: f });
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TYPE: Record<GgufFormat, GgmlType> = { bf16: GgmlType.BF16, q8_0: GgmlType.Q8_0, q4_0: GgmlType.Q4_0 };

/** The tensors llama.cpp's ernie4_5 loader asks for (tied embeddings: no output.weight), ggml dims. */
function expectedTensors(w: TextModelWeights, f: GgufFormat): Array<[string, number[], number]> {
  const c = w.config;
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  const m = TYPE[f];
  const list: Array<[string, number[], number]> = [
    ['token_embd.weight', [c.hiddenSize, c.vocabSize], m],
    ['output_norm.weight', [c.hiddenSize], GgmlType.F32],
  ];
  for (let i = 0; i < c.numLayers; i++) {
    list.push(
      [`blk.${i}.attn_norm.weight`, [c.hiddenSize], GgmlType.F32],
      [`blk.${i}.attn_q.weight`, [c.hiddenSize, q], m],
      [`blk.${i}.attn_k.weight`, [c.hiddenSize, kv], m],
      [`blk.${i}.attn_v.weight`, [c.hiddenSize, kv], m],
      [`blk.${i}.attn_output.weight`, [q, c.hiddenSize], m],
      [`blk.${i}.ffn_norm.weight`, [c.hiddenSize], GgmlType.F32],
      [`blk.${i}.ffn_gate.weight`, [c.hiddenSize, c.intermediateSize], m],
      [`blk.${i}.ffn_up.weight`, [c.hiddenSize, c.intermediateSize], m],
      [`blk.${i}.ffn_down.weight`, [c.intermediateSize, c.hiddenSize], m],
    );
  }
  return list;
}

function readBytes(path: string, offset: number, n: number): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const b = new Uint8Array(n);
    readSync(fd, b, 0, n, offset);
    return b;
  } finally {
    closeSync(fd);
  }
}

function encoded(m: Bf16Matrix, f: GgufFormat): Uint8Array {
  if (f === 'bf16') return new Uint8Array(m.data.buffer, m.data.byteOffset, m.data.byteLength);
  const rows: Uint8Array[] = [];
  for (let r = 0; r < m.rows; r++) {
    const x = bf16ArrayToF32(m.data.subarray(r * m.cols, (r + 1) * m.cols));
    rows.push(f === 'q8_0' ? quantizeQ8_0(x) : quantizeQ4_0(x));
  }
  return Buffer.concat(rows);
}

describe('ERNIE-4.5 → GGUF, read back by node-llama-cpp', () => {
  it('writes the ernie4_5 architecture, hyper-parameters and a full-size vocabulary', async () => {
    const { readGgufFileInfo } = await loadNodeLlamaCpp();
    const c = weights.config;
    for (const f of GGUF_FORMATS) {
      const info = await readGgufFileInfo(files[f], { logWarnings: false });
      expect(info.version).toBe(3);
      const md = info.metadata as unknown as Record<string, any>;
      expect(md.general.architecture).toBe('ernie4_5');
      expect(md.general.file_type).toBe({ bf16: 32, q8_0: 7, q4_0: 2 }[f]);
      const a = md.ernie4_5;
      expect([a.block_count, a.embedding_length, a.feed_forward_length, a.context_length]).toEqual([c.numLayers, c.hiddenSize, c.intermediateSize, c.maxPositionEmbeddings]);
      expect([a.attention.head_count, a.attention.head_count_kv, a.attention.key_length, a.attention.value_length]).toEqual([c.numHeads, c.numKvHeads, c.headDim, c.headDim]);
      expect(a.rope.dimension_count).toBe(c.headDim);
      expect(a.rope.freq_base).toBe(Math.fround(c.ropeTheta));
      expect(a.attention.layer_norm_rms_epsilon).toBe(Math.fround(c.rmsNormEps));
      const tok = md.tokenizer.ggml;
      expect(tok.model).toBe('llama');
      expect(tok.tokens.length).toBe(c.vocabSize);
      expect(tok.scores.length).toBe(c.vocabSize);
      expect(tok.token_type.length).toBe(c.vocabSize);
      expect([tok.tokens[0], tok.tokens[1], tok.tokens[2]]).toEqual(['<unk>', '<s>', '</s>']);
      expect([tok.bos_token_id, tok.eos_token_id]).toEqual([c.bosTokenId, c.eosTokenId]);
    }
  });

  it('names, shapes and types every tensor as llama.cpp expects, in each format', async () => {
    const { readGgufFileInfo } = await loadNodeLlamaCpp();
    for (const f of GGUF_FORMATS) {
      const info = await readGgufFileInfo(files[f], { logWarnings: false });
      const got = (info.tensorInfo ?? []).map((t) => [t.name, t.dimensions.map(Number), t.ggmlType]);
      expect(got).toEqual(expectedTensors(weights, f));
    }
  });

  it('stores the weights bit for bit (bf16 as loaded, Q8_0 / Q4_0 as the block quantizers encode them)', async () => {
    const { readGgufFileInfo } = await loadNodeLlamaCpp();
    const l = weights.layers[1]!;
    const mlp = l.mlp.kind === 'dense' ? l.mlp : undefined;
    for (const f of GGUF_FORMATS) {
      const info = await readGgufFileInfo(files[f], { logWarnings: false });
      const at = (name: string) => Number(info.tensorInfo!.find((t) => t.name === name)!.fileOffset);
      for (const [name, m] of [['blk.1.attn_k.weight', l.kProj], ['blk.1.ffn_down.weight', mlp!.downProj], ['token_embd.weight', weights.embedTokens]] as const) {
        const want = encoded(m as Bf16Matrix, f);
        expect(Buffer.from(readBytes(files[f], at(name), want.length)).equals(Buffer.from(want)), `${f} ${name}`).toBe(true);
      }
      const norm = readBytes(files[f], at('blk.1.ffn_norm.weight'), l.postAttentionLayernorm.byteLength);
      expect(Array.from(new Float32Array(norm.buffer))).toEqual(Array.from(l.postAttentionLayernorm));
    }
  });

  it('writes output.weight when the embeddings are not tied', async () => {
    const { readGgufFileInfo } = await loadNodeLlamaCpp();
    const untied = { ...weights, config: { ...weights.config, tieWordEmbeddings: false } };
    const out = join(dir, 'untied.gguf');
    writeErnieGguf({ weights: untied, dir, out, format: 'q8_0' });
    const info = await readGgufFileInfo(out, { logWarnings: false });
    const t = info.tensorInfo!.find((x) => x.name === 'output.weight')!;
    expect([t.dimensions.map(Number), t.ggmlType]).toEqual([[weights.config.hiddenSize, weights.config.vocabSize], GgmlType.Q8_0]);
  });

  it('llama.cpp generates the same greedy token ids as Tandem from the bf16 GGUF', async () => {
    const { getLlama, LlamaLogLevel } = await loadNodeLlamaCpp();
    const prompt = Array.from({ length: 20 }, (_, j) => (j * 40503 + 7) % weights.config.vocabSize);
    const N = 24;
    const runner = new ModelRunner(weights, { numBlocks: 8, blockSize: 16, maxBatchTokens: 64, maxModelLen: 128 });
    const bt = [0, 1, 2, 3, 4, 5, 6, 7];
    const argmax = (l: Float32Array) => l.reduce((b, v, i) => (v > l[b]! ? i : b), 0);
    let [logits] = await runner.forward([{ tokens: prompt, startPos: 0, blockTable: bt, logits: 'last' }]);
    const tandem: number[] = [];
    for (let i = 0; i < N; i++) {
      tandem.push(argmax(logits!));
      [logits] = await runner.forward([{ tokens: [tandem[i]!], startPos: prompt.length + i, blockTable: bt, logits: 'last' }]);
    }
    const llama = await getLlama({ gpu: false, build: 'never', maxThreads: 0, logLevel: LlamaLogLevel.error, progressLogs: false });
    const model = await llama.loadModel({ modelPath: files.bf16, gpuLayers: 0 });
    const ctx = await model.createContext({ contextSize: 256, threads: 2 });
    const got: number[] = [];
    for await (const t of ctx.getSequence().evaluate(prompt as never[], { temperature: 0, yieldEogToken: true })) {
      got.push(t as number);
      if (got.length === N) break;
    }
    await ctx.dispose();
    await model.dispose();
    expect(new Set(tandem).size).toBeGreaterThan(3); // not a degenerate repeat of one token
    expect(got).toEqual(tandem);
  });
});

/**
 * Weights every block of which the format stores exactly (a power-of-two scale, integer codes,
 * the largest magnitude at the format's extreme code): the bf16 and the Q8_0 / Q4_0 files then
 * hold the same numbers, and llama.cpp can only differ from Tandem's bf16 by its 8-bit
 * activations. A misread block layout (nibble order, scale position) would scramble the weights.
 */
function snapped(w: TextModelWeights, f: 'q8_0' | 'q4_0'): TextModelWeights {
  const [lo, hi, top] = f === 'q8_0' ? [-127, 127, 127] : [-8, 7, 8];
  const snap = (m: Bf16Matrix): Bf16Matrix => {
    const x = bf16ArrayToF32(m.data);
    for (let b = 0; b < x.length; b += 32) {
      let at = b;
      for (let j = b; j < b + 32; j++) if (Math.abs(x[j]!) > Math.abs(x[at]!)) at = j;
      const d = 2 ** Math.ceil(Math.log2(Math.abs(x[at]!) / top));
      for (let j = b; j < b + 32; j++) x[j] = d * Math.min(hi, Math.max(lo, Math.round(x[j]! / d)));
      x[at] = f === 'q4_0' ? -8 * d : Math.sign(x[at]!) * 127 * d;
    }
    return { rows: m.rows, cols: m.cols, data: Uint16Array.from(new Uint32Array(x.buffer), (u) => u >>> 16) }; // exact in bf16
  };
  const layers = w.layers.map((l) => {
    if (l.mlp.kind !== 'dense') throw new Error('dense only');
    const s = (m: unknown) => snap(m as Bf16Matrix);
    return { ...l, qProj: s(l.qProj), kProj: s(l.kProj), vProj: s(l.vProj), oProj: s(l.oProj), mlp: { ...l.mlp, gateProj: s(l.mlp.gateProj), upProj: s(l.mlp.upProj), downProj: s(l.mlp.downProj) } };
  });
  const embed = snap(w.embedTokens);
  return { ...w, embedTokens: embed, lmHead: embed, layers };
}

describe('llama.cpp reads the Q8_0 / Q4_0 blocks as written', () => {
  for (const f of ['q8_0', 'q4_0'] as const) {
    it(`${f}: on weights the format holds exactly, llama.cpp's next-token top-1 matches Tandem bf16`, async () => {
      const { LlamaCppEngine } = await import('../../services/cli/bench/llamacpp-engine.js');
      const w = snapped(weights, f);
      const q = f === 'q8_0' ? quantizeQ8_0 : quantizeQ4_0;
      const row = bf16ArrayToF32(w.layers[0]!.qProj.data as Uint16Array).subarray(0, w.config.hiddenSize);
      const { dequantizeQ8_0, dequantizeQ4_0 } = await import('./quantize-blocks.js');
      const back = (f === 'q8_0' ? dequantizeQ8_0 : dequantizeQ4_0)(q(row), row.length);
      expect(Array.from(back, (v) => v + 0)).toEqual(Array.from(row, (v) => v + 0)); // exact in the format (-0 aside)
      const out = join(dir, `snapped-${f}.gguf`);
      writeErnieGguf({ weights: w, dir, out, format: f });
      const T = 64;
      const tokens = Array.from({ length: T }, (_, j) => (j * 40503 + 11) % w.config.vocabSize);
      const V = w.config.vocabSize;
      const runner = new ModelRunner(w, { numBlocks: 8, blockSize: 16, maxBatchTokens: T, maxModelLen: 128 });
      const [logits] = await runner.forward([{ tokens, startPos: 0, blockTable: [0, 1, 2, 3, 4, 5, 6, 7], logits: 'all' }]);
      const tops = tokens.map((_, i) => logits!.subarray(i * V, (i + 1) * V).reduce((b, v, k, l) => (v > l[b]! ? k : b), 0));
      const llama = await LlamaCppEngine.open(out, { threads: 2, contextSize: 256, batchSize: T });
      const theirs = await llama.topLogits(tokens, tops);
      await llama.close();
      const agree = theirs.filter((t, i) => t.top === tops[i]).length / T;
      expect(agree).toBeGreaterThanOrEqual(0.9);
    });
  }
});
