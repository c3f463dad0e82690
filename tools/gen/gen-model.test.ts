import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { TextFamily } from '../../services/engine/model-types.js';
import { openCheckpoint } from '../../services/engine/weights/checkpoint.js';
import { parseTextModelConfig } from '../../services/engine/weights/config.js';
import { bf16ArrayToF32 } from '../../services/engine/weights/dtype.js';
import { CheckpointError } from '../../services/engine/weights/errors.js';
import { countParameters } from '../../services/engine/weights/layout.js';
import { loadTextModelWeights } from '../../services/engine/weights/load-text-weights.js';
import { planShards, tensorByteLength } from '../../services/engine/weights/safetensors-writer.js';
import { generateCheckpoint, generatedTensorSources } from './gen-model.js';
import { initStd } from './random.js';
import { DEFAULT_MAX_SHARD_BYTES, genModelConfig } from './presets.js';

const root = mkdtempSync(join(tmpdir(), 'tandem-gen-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Every file of a directory with its bytes. */
function snapshot(dir: string): Map<string, Buffer> {
  return new Map(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f))]));
}

function stats(a: ArrayLike<number>): { mean: number; std: number } {
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < a.length; i++) {
    s += a[i]!;
    s2 += a[i]! * a[i]!;
  }
  const mean = s / a.length;
  return { mean, std: Math.sqrt(s2 / a.length - mean * mean) };
}

describe('generateCheckpoint', () => {
  it.each(['ernie4_5', 'ernie4_5_moe'] as const)('is deterministic for tiny %s: same seed → same bytes, new seed → new weights', async (family: TextFamily) => {
    const a = join(root, `${family}-a`);
    const b = join(root, `${family}-b`);
    const c = join(root, `${family}-c`);
    const progress: Array<[number, number]> = [];
    const res = await generateCheckpoint({ family, size: 'tiny', outDir: a, onProgress: (d, t) => progress.push([d, t]) });
    await generateCheckpoint({ family, size: 'tiny', outDir: b, seed: 0 });
    await generateCheckpoint({ family, size: 'tiny', outDir: c, seed: 1 });

    const sa = snapshot(a);
    const sb = snapshot(b);
    expect([...sa.keys()]).toEqual([...sb.keys()]);
    for (const [f, bytes] of sa) expect(bytes.equals(sb.get(f)!), f).toBe(true);
    expect(sa.has('config.json') && sa.has('generation_config.json') && sa.has('model.safetensors')).toBe(true);
    expect([...sa.keys()].some((f) => f.startsWith('tokenizer'))).toBe(true);

    const sc = snapshot(c);
    expect(sc.get('model.safetensors')!.equals(sa.get('model.safetensors')!)).toBe(false);
    // Every single tensor differs with the seed.
    const ca = openCheckpoint(a);
    const cc = openCheckpoint(c);
    for (const n of ca.tensorNames()) expect(Buffer.from(ca.get(n).bytes).equals(Buffer.from(cc.get(n).bytes)), n).toBe(false);

    // Progress: starts at 0, never goes back, ends at the total, which is the tensor data size.
    expect(progress[0]).toEqual([0, res.totalBytes]);
    expect(progress.at(-1)).toEqual([res.totalBytes, res.totalBytes]);
    for (let i = 1; i < progress.length; i++) expect(progress[i]![0]).toBeGreaterThanOrEqual(progress[i - 1]![0]);
    const h = openCheckpoint(a);
    expect(h.tensorNames().reduce((s, n) => s + h.get(n).bytes.length, 0)).toBe(res.totalBytes);
    expect(res.paramCount).toBe(countParameters(res.config));
    expect(res.files).toEqual(['model.safetensors']);
  });

  it('writes a complete Hugging Face config and generation config', async () => {
    const dir = join(root, 'cfg');
    await generateCheckpoint({ family: 'ernie4_5_moe', size: 'tiny', outDir: dir, tokenizer: false });
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(cfg).toMatchObject({
      architectures: ['Ernie4_5_MoeForCausalLM'],
      model_type: 'ernie4_5_moe',
      torch_dtype: 'bfloat16',
      hidden_size: 64,
      intermediate_size: 128,
      num_hidden_layers: 4,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      head_dim: 16,
      vocab_size: 1024,
      max_position_embeddings: 4096,
      rope_theta: 500000,
      rms_norm_eps: 1e-5,
      tie_word_embeddings: true,
      use_bias: false,
      bos_token_id: 1,
      eos_token_id: 2,
      pad_token_id: 0,
      moe_num_experts: 8,
      moe_k: 2,
      moe_intermediate_size: 32,
      moe_num_shared_experts: 2,
      moe_layer_start_index: 1,
      moe_layer_end_index: 3,
      moe_layer_interval: 1,
      moe_norm_min: 1e-12,
    });
    expect(parseTextModelConfig(cfg).moe!.numExperts).toBe(8);
    const gen = JSON.parse(readFileSync(join(dir, 'generation_config.json'), 'utf8'));
    expect(gen).toMatchObject({ bos_token_id: 1, eos_token_id: 2, pad_token_id: 0 });
    expect(genModelConfig('ernie4_5', '0.3b')).toMatchObject({ architectures: ['Ernie4_5ForCausalLM'], hidden_size: 1024, num_hidden_layers: 18 });
    expect(existsSync(join(dir, 'model.safetensors.index.json'))).toBe(false);

    // The MoE gate and correction bias are fp32 as in real checkpoints; the bias is not negligible.
    const ck = openCheckpoint(dir);
    expect(ck.info('model.layers.1.mlp.gate.weight')).toMatchObject({ dtype: 'F32', shape: [8, 64] });
    expect(ck.info('model.layers.1.mlp.moe_statics.e_score_correction_bias')).toMatchObject({ dtype: 'F32', shape: [1, 8] });
    expect(ck.info('model.layers.0.mlp.gate_proj.weight')).toMatchObject({ dtype: 'BF16', shape: [128, 64] });
    expect(ck.info('model.layers.0.mlp.gate.weight')).toBeUndefined();
  });

  it('draws weights at the intended scales', async () => {
    const dir = join(root, 'scales');
    await generateCheckpoint({ family: 'ernie4_5_moe', size: 'tiny', outDir: dir, seed: 3, tokenizer: false });
    const w = await loadTextModelWeights(dir);
    const emb = stats(bf16ArrayToF32(w.embedTokens.data));
    expect(Math.abs(emb.mean)).toBeLessThan(0.005);
    expect(emb.std / initStd(64)).toBeGreaterThan(0.97);
    expect(emb.std / initStd(64)).toBeLessThan(1.03);
    const norm = stats(w.layers[0]!.inputLayernorm);
    expect(Math.abs(norm.mean - 1)).toBeLessThan(0.02);
    expect(norm.std).toBeGreaterThan(0.02);
    const moe = w.layers[1]!.mlp;
    if (moe.kind !== 'moe') throw new Error('unreachable');
    expect(stats(moe.gate).std / initStd(64)).toBeGreaterThan(0.9);
    expect(stats(moe.correctionBias).std).toBeGreaterThan(0.01);
  });

  it('plans the real-shape sizes: 0.3b and moe-small in two shards each', () => {
    for (const [family, size, params] of [
      ['ernie4_5', '0.3b', 360_748_032],
      ['ernie4_5_moe', 'moe-small', 242_459_584],
    ] as const) {
      const config = parseTextModelConfig(genModelConfig(family, size));
      const sources = generatedTensorSources(config, 0); // descriptors only; nothing is produced
      const bytes = sources.reduce((s, t) => s + tensorByteLength(t), 0);
      expect(countParameters(config)).toBe(params);
      expect(bytes).toBeGreaterThan(2 * params - 1_000_000); // bf16 apart from small fp32 router tensors
      expect(bytes).toBeLessThan(2 * params + 1_000_000);
      expect(planShards(sources, DEFAULT_MAX_SHARD_BYTES[size])).toHaveLength(2);
    }
  });

  it('refuses unknown size/family pairs and bad seeds', async () => {
    await expect(generateCheckpoint({ family: 'ernie4_5', size: 'moe-small', outDir: join(root, 'x'), tokenizer: false })).rejects.toThrow(
      /no generated size 'moe-small' for family 'ernie4_5'.*ernie4_5: tiny, 0\.3b/,
    );
    await expect(generateCheckpoint({ family: 'ernie4_5', size: 'tiny', outDir: join(root, 'y'), seed: -1 })).rejects.toBeInstanceOf(
      CheckpointError,
    );
  });
});
