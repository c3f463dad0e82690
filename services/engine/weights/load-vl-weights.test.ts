import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatedVlTensorSources, generateVlCheckpoint } from '../../../tools/gen/gen-vl-model.js';
import { genVlModelConfig } from '../../../tools/gen/vl-presets.js';
import { VisionRunner } from '../runner/vision-runner.js';
import { openCheckpoint } from './checkpoint.js';
import { isCheckpointError } from './errors.js';
import { readVlModelWeights, loadVlModelWeights } from './load-vl-weights.js';
import { writeCheckpointShards, type TensorSource } from './safetensors-writer.js';
import { parseVlModelConfig } from './vl-config.js';
import { countVlParameters } from './vl-layout.js';

const root = mkdtempSync(join(tmpdir(), 'tandem-vlw-'));
const tiny = join(root, 'tiny');
afterAll(() => rmSync(root, { recursive: true, force: true }));
beforeAll(async () => {
  await generateVlCheckpoint({ size: 'tiny', outDir: tiny, seed: 3 });
});

const snapshot = (dir: string) => new Map(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f))]));
const IDS = { image: 11, imageStart: 12, imageEnd: 13, video: 14, videoStart: 15, videoEnd: 16 };

describe('generated ernie4_5_vl_moe checkpoints', () => {
  it('are deterministic in the seed and use the real config keys and tensor names', async () => {
    const again = join(root, 'again');
    const other = join(root, 'other');
    await generateVlCheckpoint({ size: 'tiny', outDir: again, seed: 3 });
    await generateVlCheckpoint({ size: 'tiny', outDir: other, seed: 4, tokenizer: false });
    const a = snapshot(tiny);
    const b = snapshot(again);
    expect([...a.keys()]).toEqual([...b.keys()]);
    for (const [f, bytes] of a) expect(bytes.equals(b.get(f)!), f).toBe(true);
    expect(snapshot(other).get('model.safetensors')!.equals(a.get('model.safetensors')!)).toBe(false);

    const cfg = JSON.parse(a.get('config.json')!.toString());
    const tok = JSON.parse(a.get('tokenizer.json')!.toString());
    const idOf = (piece: string) => tok.added_tokens.find((t: { content: string }) => t.content === piece).id;
    expect(cfg).toMatchObject({ model_type: 'ernie4_5_vl_moe', architectures: ['Ernie4_5_VLMoeForConditionalGeneration'] });
    expect(cfg.image_token_id).toBe(idOf('<|IMAGE_PLACEHOLDER|>'));
    expect(cfg.image_start_token_id).toBe(idOf('<|IMAGE_START|>'));
    expect(cfg.image_end_token_id).toBe(idOf('<|IMAGE_END|>'));
    expect(cfg.text_config).toMatchObject({ moe_intermediate_size: [48, 16], mlp_layer_types: ['dense', 'sparse', 'sparse'], rope_parameters: { mrope_section: [3, 3, 2] } });
    expect(cfg.vision_config).toMatchObject({ hidden_act: 'quick_gelu', patch_size: 14, spatial_merge_size: 2, temporal_merge_size: 2 });

    const ck = openCheckpoint(tiny);
    expect(ck.info('vision_model.patch_embed.proj.weight')).toMatchObject({ shape: [32, 588] });
    expect(ck.info('vision_model.blocks.1.attn.qkv.bias')).toMatchObject({ shape: [96] });
    expect(ck.info('model.resampler_model.spatial_linear.3.weight')).toMatchObject({ shape: [128] });
    expect(ck.info('model.resampler_model.temporal_linear.0.weight')).toMatchObject({ shape: [128, 256] });
    expect(ck.info('model.resampler_model.mlp.weight')).toMatchObject({ shape: [64, 128] });
    expect(ck.info('model.layers.1.mlp.gate.weight')).toMatchObject({ dtype: 'F32', shape: [64, 4] });
    expect(ck.info('model.layers.1.mlp.gate.weight_1')).toMatchObject({ dtype: 'F32', shape: [64, 4] });
    expect(ck.info('model.layers.1.mlp.moe_statics.e_score_correction_bias')).toMatchObject({ shape: [2, 4] });
    expect(ck.info('model.layers.2.mlp.experts.3.up_proj.weight')).toMatchObject({ shape: [48, 64] });
    expect(ck.info('model.layers.2.mlp.experts.4.up_proj.weight')).toMatchObject({ shape: [16, 64] });
    expect(ck.info('model.layers.0.mlp.experts.4.up_proj.weight')).toBeUndefined();
  });

  it('plans the small size with real routing (64 + 64 experts, top-6) in shards', () => {
    const c = parseVlModelConfig(genVlModelConfig('small', IDS));
    expect(c.text.moe).toMatchObject({ numExperts: 64, topK: 6, intermediateSize: 384, numSharedExperts: 2 });
    expect(c.visionMoeIntermediateSize).toBe(128);
    expect(c.vision.headDim).toBe(80);
    expect(countVlParameters(c)).toBeGreaterThan(400_000_000);
    expect(generatedVlTensorSources(c, 0).length).toBeGreaterThan(2000); // descriptors only
  });
});

describe('loadVlModelWeights', () => {
  it('splits routers, correction bias and experts by modality', async () => {
    const w = await loadVlModelWeights(tiny);
    const ck = openCheckpoint(tiny);
    const bias = new Float32Array(ck.get('model.layers.1.mlp.moe_statics.e_score_correction_bias').bytes.slice().buffer);
    const l1 = w.text.layers[1]!.mlp;
    if (l1.kind !== 'moe') throw new Error('layer 1 must be MoE');
    expect(Array.from(l1.correctionBias)).toEqual(Array.from(bias.subarray(0, 4)));
    expect(Array.from(w.visionExperts[1]!.correctionBias)).toEqual(Array.from(bias.subarray(4, 8)));
    // Routers are stored [hidden, experts] and used as [experts, hidden].
    const stored = new Float32Array(ck.get('model.layers.1.mlp.gate.weight_1').bytes.slice().buffer);
    expect(w.visionExperts[1]!.gate[2 * 64 + 5]).toBe(stored[5 * 4 + 2]);
    expect(w.visionExperts[0]).toBeUndefined();
    expect(w.visionExperts[2]!.experts[0]!.gateProj).toMatchObject({ rows: 16, cols: 64 });
  });

  async function rewritten(name: string, edit: (sources: TensorSource[]) => TensorSource[]): Promise<string> {
    const dir = join(root, name);
    mkdirSync(dir, { recursive: true });
    const config = parseVlModelConfig(JSON.parse(readFileSync(join(tiny, 'config.json'), 'utf8')));
    await writeCheckpointShards(dir, edit(generatedVlTensorSources(config, 3)), { maxShardBytes: Infinity });
    copyFileSync(join(tiny, 'config.json'), join(dir, 'config.json'));
    return dir;
  }

  it('refuses a tensor of the wrong shape and a missing vision router, naming them', async () => {
    const bad = await rewritten('bad-shape', (s) =>
      s.map((t) => (t.name === 'vision_model.blocks.0.attn.qkv.weight' ? { ...t, shape: [97, 32], produce: () => new Uint8Array(97 * 32 * 2) } : t)),
    );
    expect(() => readVlModelWeights(openCheckpoint(bad))).toThrow(/vision_model\.blocks\.0\.attn\.qkv\.weight.*\[97, 32\], expected \[96, 32\]/);
    const missing = await rewritten('missing', (s) => s.filter((t) => t.name !== 'model.layers.2.mlp.gate.weight_1'));
    let err: unknown;
    try {
      readVlModelWeights(openCheckpoint(missing));
    } catch (e) {
      err = e;
    }
    expect(isCheckpointError(err, 'missing_tensor')).toBe(true);
    expect(String(err)).toContain('model.layers.2.mlp.gate.weight_1');
  });

  it('accepts routers saved as [experts, hidden] (re-saved checkpoints) with the same values', async () => {
    const transposed = await rewritten('transposed', (s) =>
      s.map((t) => {
        if (!/mlp\.gate\.weight(_1)?$/.test(t.name)) return t;
        return {
          ...t,
          shape: [4, 64],
          produce: async () => {
            const a = new Float32Array((await t.produce()).slice().buffer);
            const out = new Float32Array(a.length);
            for (let e = 0; e < 4; e++) for (let h = 0; h < 64; h++) out[e * 64 + h] = a[h * 4 + e]!;
            return new Uint8Array(out.buffer);
          },
        };
      }),
    );
    const a = readVlModelWeights(openCheckpoint(tiny)).weights;
    const b = readVlModelWeights(openCheckpoint(transposed)).weights;
    expect(Array.from(b.visionExperts[1]!.gate)).toEqual(Array.from(a.visionExperts[1]!.gate));
  });

  it('refuses configs it cannot run', () => {
    const cfg = () => JSON.parse(readFileSync(join(tiny, 'config.json'), 'utf8'));
    const c1 = cfg();
    c1.text_config.rope_parameters.mrope_section = [3, 2, 3];
    expect(() => parseVlModelConfig(c1)).toThrow(/mrope_section/);
    const c2 = cfg();
    c2.vision_config.hidden_act = 'gelu';
    expect(() => parseVlModelConfig(c2)).toThrow(/hidden_act/);
    const c3 = cfg();
    c3.text_config.moe_intermediate_size = 48;
    expect(() => parseVlModelConfig(c3)).toThrow(/moe_intermediate_size/);
  });
});

describe('VisionRunner', () => {
  it('encodes a list of images into [tokens, hidden] with per-image invariance', async () => {
    const w = await loadVlModelWeights(tiny);
    const runner = new VisionRunner(w);
    const img = (h: number, wd: number, s: number) => ({
      grid: { t: 1, h, w: wd },
      pixels: Float32Array.from({ length: 3 * h * 14 * wd * 14 }, (_, i) => Math.sin(i * 0.37 + s)),
    });
    const a = img(2, 4, 1);
    const b = img(4, 4, 2);
    expect(runner.tokenCounts([a, b])).toEqual([2, 4]);
    const both = await runner.encodeImages([a, b]);
    const onlyB = await runner.encodeImages([b]);
    expect(both.length).toBe(6 * 64);
    expect(Array.from(new Uint32Array(both.slice(2 * 64).buffer))).toEqual(Array.from(new Uint32Array(onlyB.buffer)));
  });
});
