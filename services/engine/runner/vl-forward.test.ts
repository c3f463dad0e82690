import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kvBytes, native, type KernelImpl, type KvLayout } from '../../../kernels/ts/index.js';
import { NativeVisionModelClass, type NativeVlBatch, type NativeVlTextModel } from '../../../kernels/ts/vision.js';
import { generateVlCheckpoint } from '../../../tools/gen/gen-vl-model.js';
import { referenceVlForward, vlPromptLayout, type VlToken } from '../reference/vl-model.js';
import type { ImageGrid, VlModelWeights } from '../vl-model-types.js';
import { loadVlModelWeights } from '../weights/load-vl-weights.js';
import { nativeVisionSpecFor, nativeVlTextSpecFor } from './vl-native-spec.js';

const root = mkdtempSync(join(tmpdir(), 'tandem-vl-'));
let w: VlModelWeights;
afterAll(() => rmSync(root, { recursive: true, force: true }));

const GRIDS: ImageGrid[] = [{ t: 1, h: 2, w: 2 }, { t: 1, h: 4, w: 2 }, { t: 1, h: 2, w: 6 }];
let embeds: Float32Array[]; // per image: [tokens, hidden]

beforeAll(async () => {
  await generateVlCheckpoint({ size: 'tiny', outDir: root, seed: 9, tokenizer: false });
  w = await loadVlModelWeights(root);
  const vision = new NativeVisionModelClass(nativeVisionSpecFor(w));
  embeds = [];
  let s = 1;
  for (const g of GRIDS) {
    const px = new Float32Array(3 * g.h * 14 * g.w * 14).map(() => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) * 4 - 2);
    const out = new Float32Array((g.h * g.w / 4) * w.config.text.hiddenSize);
    await vision.encode(px, Int32Array.from([g.t, g.h, g.w]), out);
    embeds.push(out);
  }
});

/** ids with `<|IMAGE_START|>` + placeholders + `<|IMAGE_END|>` for each listed image between text runs. */
function promptIds(parts: Array<number[] | number>): { ids: number[]; grids: ImageGrid[]; images: number[] } {
  const c = w.config;
  const ids: number[] = [];
  const grids: ImageGrid[] = [];
  const images: number[] = [];
  for (const p of parts) {
    if (Array.isArray(p)) ids.push(...p);
    else {
      const g = GRIDS[p]!;
      ids.push(c.imageStartTokenId, ...Array(g.h * g.w / 4).fill(c.imageTokenId), c.imageEndTokenId);
      grids.push(g);
      images.push(p);
    }
  }
  return { ids, grids, images };
}

function tokensOf(p: ReturnType<typeof promptIds>): VlToken[] {
  const lay = vlPromptLayout(p.ids, p.grids, w.config);
  const H = w.config.text.hiddenSize;
  let img = -1;
  let row = 0;
  return p.ids.map((id, i) => {
    let embed: Float32Array | undefined;
    if (id === w.config.imageTokenId) {
      if (p.ids[i - 1] !== id) {
        img++;
        row = 0;
      }
      const e = embeds[p.images[img]!]!;
      embed = e.subarray(row * H, ++row * H);
    }
    return { id, modality: lay.modality[i]!, pos: lay.pos[i]!, embed };
  });
}

/** Native logits of every token, fed in chunks of the given sizes (one sequence, bf16 KV cache). */
async function nativeLogits(weights: VlModelWeights, tokens: VlToken[], opts: { isa?: KernelImpl; chunks?: number[]; vl?: boolean } = {}) {
  const c = weights.config.text;
  const model = new native.TextModel(nativeVlTextSpecFor(weights, { maxTokens: 64, maxCtx: 256, isa: opts.isa })) as unknown as NativeVlTextModel;
  const layout: KvLayout = { layers: c.numLayers, numBlocks: 8, blockSize: 16, kvHeads: c.numKvHeads, headDim: c.headDim, dtype: 'bf16' };
  const kv = native.allocKvBuffer(kvBytes(layout));
  const H = c.hiddenSize;
  const out = new Float32Array(tokens.length * c.vocabSize);
  let start = 0;
  for (const n of opts.chunks ?? [tokens.length]) {
    const part = tokens.slice(start, start + n);
    const rows = part.flatMap((t, i) => (t.embed ? [i] : []));
    const batch: NativeVlBatch = {
      ids: Int32Array.from(part, (t) => t.id),
      positions: Int32Array.from(part, (_, i) => start + i),
      qStart: Int32Array.from([0, n]),
      blockTables: Int32Array.from({ length: 8 }, (_, i) => i),
      btStride: 8,
      logitRows: Int32Array.from(part, (_, i) => i),
    };
    if (opts.vl !== false) {
      batch.embedRows = Int32Array.from(rows);
      batch.embeds = new Float32Array(rows.length * H);
      rows.forEach((r, k) => batch.embeds!.set(part[r]!.embed!, k * H));
      batch.modality = Int32Array.from(part, (t) => t.modality);
      batch.ropePositions = Int32Array.from(part.flatMap((t) => t.pos));
    }
    await model.forward(batch, kv, layout, out.subarray(start * c.vocabSize, (start + n) * c.vocabSize));
    start += n;
  }
  return out;
}

const maxRel = (a: Float32Array, b: Float32Array) => {
  let m = 0;
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    m = Math.max(m, Math.abs(a[i]! - b[i]!));
    s = Math.max(s, Math.abs(b[i]!));
  }
  return m / s;
};
const rowsBits = (a: Float32Array, from: number, to: number, V: number) => Array.from(new Uint32Array(a.slice(from * V, to * V).buffer));

describe('ERNIE-4.5-VL decoder: native vs oracle', () => {
  it('three images of different aspect ratios with text around them', async () => {
    const tokens = tokensOf(promptIds([[1, 30, 31], 0, [40, 41], 1, [50], 2, [60, 61, 62]]));
    expect(tokens.filter((t) => t.embed).length).toBe(1 + 2 + 3);
    const ref = referenceVlForward(w, tokens);
    for (const isa of ['scalar', ...(native.info().bestIsa === 'scalar' ? [] : ['active'])] as KernelImpl[]) {
      expect(maxRel(await nativeLogits(w, tokens, { isa }), ref), isa).toBeLessThan(2e-4);
    }
    // 3-D positions really differ from sequence positions after an image (4x2 merges to 2x1: p, p+1, p).
    expect(tokens.some((t, i) => t.pos[0] !== i)).toBe(true);
  });

  it('chunked prefill gives the bits of a whole prefill', async () => {
    const tokens = tokensOf(promptIds([[1, 30], 2, [40, 41], 1, [7]]));
    const whole = await nativeLogits(w, tokens);
    const chunked = await nativeLogits(w, tokens, { chunks: [3, 1, 5, tokens.length - 9] });
    expect(rowsBits(chunked, 0, tokens.length, w.config.text.vocabSize)).toEqual(rowsBits(whole, 0, tokens.length, w.config.text.vocabSize));
  });

  it('text-only input through the VL inputs equals the plain text path bit for bit', async () => {
    const tokens = tokensOf(promptIds([[1, 30, 31, 32, 33, 34, 35]]));
    const viaVl = await nativeLogits(w, tokens);
    const plain = await nativeLogits(w, tokens, { vl: false });
    expect(Array.from(new Uint32Array(viaVl.buffer))).toEqual(Array.from(new Uint32Array(plain.buffer)));
  });
});

/** A copy of the weights whose text (or vision) experts all output zero. */
function silenced(which: 'text' | 'vision'): VlModelWeights {
  const zero = <T extends { downProj: { rows: number; cols: number; data: Uint16Array } }>(e: T): T => ({
    ...e,
    downProj: { ...e.downProj, data: new Uint16Array(e.downProj.data.length) },
  });
  return {
    ...w,
    text: {
      ...w.text,
      layers: w.text.layers.map((l) => (which === 'text' && l.mlp.kind === 'moe' ? { ...l, mlp: { ...l.mlp, experts: l.mlp.experts.map(zero) } } : l)),
    },
    visionExperts: w.visionExperts.map((v) => (v && which === 'vision' ? { ...v, experts: v.experts.map(zero) } : v)),
  };
}

describe('modality routing: tokens never cross expert sets', () => {
  it('vision tokens never reach the text experts', async () => {
    // Image first: the vision tokens see only vision tokens, so their logits can only change
    // through the experts they are routed to.
    const tokens = tokensOf(promptIds([1, [40, 41, 42]]));
    const nVision = tokens.findIndex((t) => t.modality === 0);
    expect(nVision).toBe(4);
    const V = w.config.text.vocabSize;
    const base = await nativeLogits(w, tokens);
    const noText = await nativeLogits(silenced('text'), tokens);
    expect(rowsBits(noText, 0, nVision, V)).toEqual(rowsBits(base, 0, nVision, V));
    expect(rowsBits(noText, nVision, tokens.length, V)).not.toEqual(rowsBits(base, nVision, tokens.length, V));
  });

  it('text tokens never reach the vision experts', async () => {
    const tokens = tokensOf(promptIds([[1, 30, 31, 32], 2]));
    const nText = tokens.findIndex((t) => t.modality === 1);
    expect(nText).toBe(4);
    const V = w.config.text.vocabSize;
    const base = await nativeLogits(w, tokens);
    const noVision = await nativeLogits(silenced('vision'), tokens);
    expect(rowsBits(noVision, 0, nText, V)).toEqual(rowsBits(base, 0, nText, V));
    expect(rowsBits(noVision, nText, tokens.length, V)).not.toEqual(rowsBits(base, nText, tokens.length, V));
    // The oracle agrees with the silenced native model too (the routing rule is the same on both sides).
    expect(maxRel(noVision, referenceVlForward(silenced('vision'), tokens))).toBeLessThan(2e-4);
  });
});
