import { describe, expect, it } from 'vitest';
import { isMoeLayer } from '../model-types.js';
import { genModelConfig } from '../../../tools/gen/presets.js';
import { parseTextModelConfig } from './config.js';
import { CheckpointError } from './errors.js';

const ERNIE_03B = {
  architectures: ['Ernie4_5ForCausalLM'],
  bos_token_id: 1,
  eos_token_id: 2,
  head_dim: 128,
  hidden_act: 'silu',
  hidden_size: 1024,
  intermediate_size: 3072,
  max_position_embeddings: 131072,
  model_type: 'ernie4_5',
  num_attention_heads: 16,
  num_hidden_layers: 18,
  num_key_value_heads: 2,
  pad_token_id: 0,
  rms_norm_eps: 1e-5,
  rope_theta: 500000,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  use_bias: false,
  use_cache: true,
  vocab_size: 103424,
};

function fails(raw: unknown): CheckpointError {
  try {
    parseTextModelConfig(raw);
  } catch (e) {
    expect(e).toBeInstanceOf(CheckpointError);
    expect((e as CheckpointError).code).toBe('bad_config');
    return e as CheckpointError;
  }
  throw new Error('expected bad_config');
}

describe('parseTextModelConfig', () => {
  it('parses the ERNIE-4.5-0.3B config', () => {
    const c = parseTextModelConfig(ERNIE_03B);
    expect(c).toEqual({
      modelType: 'ernie4_5',
      hiddenSize: 1024,
      intermediateSize: 3072,
      numLayers: 18,
      numHeads: 16,
      numKvHeads: 2,
      headDim: 128,
      vocabSize: 103424,
      maxPositionEmbeddings: 131072,
      ropeTheta: 500000,
      rmsNormEps: 1e-5,
      tieWordEmbeddings: true,
      useBias: false,
      bosTokenId: 1,
      eosTokenId: 2,
      padTokenId: 0,
    });
  });

  it('defaults head_dim, kv heads and the MoE layer range', () => {
    const { head_dim: _h, num_key_value_heads: _k, ...rest } = ERNIE_03B;
    const c = parseTextModelConfig(rest);
    expect(c.headDim).toBe(64);
    expect(c.numKvHeads).toBe(16);

    const moe = parseTextModelConfig({
      ...ERNIE_03B,
      model_type: 'ernie4_5_moe',
      moe_num_experts: 64,
      moe_k: 6,
      moe_intermediate_size: 1536,
      moe_num_shared_experts: 2,
      moe_layer_start_index: 1,
    });
    expect(moe.moe).toEqual({
      numExperts: 64,
      topK: 6,
      intermediateSize: 1536,
      numSharedExperts: 2,
      layerStartIndex: 1,
      layerEndIndex: 17,
      layerInterval: 1,
      normMin: 1e-12,
    });
    expect(isMoeLayer(moe, 0)).toBe(false);
    expect(isMoeLayer(moe, 1)).toBe(true);
    expect(isMoeLayer(moe, 17)).toBe(true);
    const ends = parseTextModelConfig({ ...ERNIE_03B, model_type: 'ernie4_5_moe', moe_num_experts: [8, 8], moe_k: 2, moe_intermediate_size: [32, 16], moe_layer_end_index: -1 });
    expect(ends.moe!.numExperts).toBe(8);
    expect(ends.moe!.intermediateSize).toBe(32);
    expect(ends.moe!.layerEndIndex).toBe(17);
    expect(parseTextModelConfig({ ...ERNIE_03B, eos_token_id: [2, 5] }).eosTokenId).toEqual([2, 5]);
  });

  it('parses every generated preset', () => {
    expect(parseTextModelConfig(genModelConfig('ernie4_5', 'tiny')).numLayers).toBe(4);
    expect(parseTextModelConfig(genModelConfig('ernie4_5_moe', 'moe-small')).moe!.numExperts).toBe(64);
  });

  it('names the offending key', () => {
    expect(fails({ ...ERNIE_03B, hidden_size: '1024' }).message).toContain('hidden_size must be an integer, got "1024"');
    expect(fails({ ...ERNIE_03B, num_hidden_layers: 0 }).message).toContain('num_hidden_layers must be >= 1, got 0');
    expect(fails({ ...ERNIE_03B, vocab_size: undefined }).message).toContain('vocab_size is required');
    expect(fails({ ...ERNIE_03B, rms_norm_eps: -1 }).message).toContain('rms_norm_eps must be > 0');
    expect(fails({ ...ERNIE_03B, rope_theta: 'big' }).message).toContain('rope_theta must be a finite number');
    expect(fails({ ...ERNIE_03B, num_key_value_heads: 3 }).message).toContain('num_key_value_heads (3) must divide num_attention_heads (16)');
    expect(fails({ ...ERNIE_03B, tie_word_embeddings: 'yes' }).message).toContain('tie_word_embeddings must be true or false');
    expect(fails({ ...ERNIE_03B, eos_token_id: 200000 }).message).toContain('eos_token_id must be <= 103423');
    expect(fails({ ...ERNIE_03B, head_dim: undefined, num_attention_heads: 24, num_key_value_heads: 8 }).message).toContain('head_dim is absent');
    expect(fails({ ...ERNIE_03B, hidden_act: 'gelu' }).message).toContain('hidden_act');
    expect(fails([]).message).toContain('not a JSON object');
    const moe = { ...ERNIE_03B, model_type: 'ernie4_5_moe', moe_num_experts: 8, moe_k: 2, moe_intermediate_size: 32 };
    expect(fails({ ...moe, moe_k: 9 }).message).toContain('moe_k must be <= 8');
    expect(fails({ ...moe, moe_num_experts: undefined }).message).toContain('moe_num_experts is required');
    expect(fails({ ...moe, moe_layer_start_index: 5, moe_layer_end_index: 3 }).message).toContain('moe_layer_end_index (3) is before moe_layer_start_index (5)');
    expect(fails({ ...moe, moe_layer_end_index: 18 }).message).toContain('moe_layer_end_index must be <= 17');
  });

  it('refuses use_bias and unsupported model types with a clear message', () => {
    expect(fails({ ...ERNIE_03B, use_bias: true }).message).toMatch(/use_bias is true.*not supported/);
    const e = fails({ ...ERNIE_03B, model_type: 'llama' });
    expect(e.message).toContain('"llama" is not supported');
    expect(e.message).toContain('ernie4_5, ernie4_5_moe');
    expect(fails({ ...ERNIE_03B, model_type: undefined }).message).toContain('model_type missing is not supported');
  });
});
