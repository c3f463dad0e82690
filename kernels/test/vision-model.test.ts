import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NativeVisionModelClass, type NativeVisionModel } from '../ts/vision.js';
import { generateVlCheckpoint } from '../../tools/gen/gen-vl-model.js';
import { referenceResampler, referenceVit } from '../../services/engine/reference/vision.js';
import { nativeVisionSpecFor } from '../../services/engine/runner/vl-native-spec.js';
import type { ImageGrid, VlModelWeights } from '../../services/engine/vl-model-types.js';
import { loadVlModelWeights } from '../../services/engine/weights/load-vl-weights.js';
import { bitsEqual, maxRelDiff, optimizedImpls, randomF32 } from './helpers.js';

const root = mkdtempSync(join(tmpdir(), 'tandem-vision-'));
let w: VlModelWeights;
beforeAll(async () => {
  await generateVlCheckpoint({ size: 'tiny', outDir: root, seed: 5, tokenizer: false });
  w = await loadVlModelWeights(root);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

// 28x28, 56x28 and 28x84 pixel images (patch 14): 2x2, 4x2 and 2x6 patch grids.
const GRIDS: ImageGrid[] = [{ t: 1, h: 2, w: 2 }, { t: 1, h: 4, w: 2 }, { t: 1, h: 2, w: 6 }];
const pixelsOf = (g: ImageGrid, seed: number) => randomF32(3 * g.h * 14 * g.w * 14, seed, 2);
const gridArray = (gs: ImageGrid[]) => Int32Array.from(gs.flatMap((g) => [g.t, g.h, g.w]));
const concat = (xs: Float32Array[]) => {
  const out = new Float32Array(xs.reduce((n, x) => n + x.length, 0));
  let o = 0;
  for (const x of xs) {
    out.set(x, o);
    o += x.length;
  }
  return out;
};

async function encode(model: NativeVisionModel, gs: ImageGrid[], px: Float32Array[]) {
  const patches = gs.reduce((n, g) => n + g.h * g.w, 0);
  const out = new Float32Array((patches / 4) * w.config.text.hiddenSize);
  const vit = new Float32Array(patches * w.config.vision.hiddenSize);
  await model.encode(concat(px), gridArray(gs), out, vit);
  return { out, vit };
}

describe('native VisionModel (ViT + resampler) on the generated tiny checkpoint', () => {
  it('matches the oracle on three aspect ratios encoded in one call', async () => {
    const model = new NativeVisionModelClass(nativeVisionSpecFor(w, 'scalar'));
    const px = GRIDS.map((g, i) => pixelsOf(g, 40 + i));
    const { out, vit } = await encode(model, GRIDS, px);
    const H = w.config.vision.hiddenSize;
    const D = w.config.text.hiddenSize;
    let patch = 0;
    let token = 0;
    GRIDS.forEach((g, i) => {
      const refVit = referenceVit(w.vision, w.config.vision, px[i]!, g);
      const refTok = referenceResampler(w.vision, w.config.vision, w.config.text.rmsNormEps, refVit);
      expect(refTok.length).toBe((g.h * g.w) / 4);
      refVit.forEach((r, j) => expect(maxRelDiff(vit.subarray((patch + j) * H, (patch + j + 1) * H), r, 1)).toBeLessThan(2e-4));
      refTok.forEach((r, j) => expect(maxRelDiff(out.subarray((token + j) * D, (token + j + 1) * D), r, 1)).toBeLessThan(2e-4));
      patch += g.h * g.w;
      token += refTok.length;
    });
    expect(out.every(Number.isFinite)).toBe(true);
  });

  it('every ISA agrees with scalar, and an image alone gives the bits it gets among others', async () => {
    const px = GRIDS.map((g, i) => pixelsOf(g, 70 + i));
    const ref = await encode(new NativeVisionModelClass(nativeVisionSpecFor(w, 'scalar')), GRIDS, px);
    for (const impl of ['scalar', ...optimizedImpls()] as const) {
      const model = new NativeVisionModelClass(nativeVisionSpecFor(w, impl));
      const all = await encode(model, GRIDS, px);
      expect(maxRelDiff(all.out, ref.out, 1), impl).toBeLessThan(1e-4);
      const D = w.config.text.hiddenSize;
      const alone = await encode(model, [GRIDS[1]!], [px[1]!]);
      expect(bitsEqual(alone.out, all.out.subarray(1 * D, 3 * D)), impl).toBe(true);
    }
  });

  it('refuses video, grids that are not multiples of the merge size, and wrong pixel counts', async () => {
    const model = new NativeVisionModelClass(nativeVisionSpecFor(w));
    const out = new Float32Array(1024);
    expect(() => model.encode(new Float32Array(2 * 588 * 4), Int32Array.from([2, 2, 2]), out)).toThrow(/only still images/);
    expect(() => model.encode(new Float32Array(588 * 6), Int32Array.from([1, 3, 2]), out)).toThrow(/multiples of 2/);
    expect(() => model.encode(new Float32Array(588 * 5), Int32Array.from([1, 2, 2]), out)).toThrow(/pixels/);
  });
});
