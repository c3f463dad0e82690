/**
 * Model sizes `generateCheckpoint` can produce, as complete Hugging Face `config.json` objects.
 * `0.3b` is exactly ERNIE-4.5-0.3B and `21b-a3b` exactly ERNIE-4.5-21B-A3B (42 GB in bf16: write
 * it with --quantization wint4 to serve it on a 24 GiB machine); `moe-small` keeps the 21B-A3B routing (64 experts, top-6,
 * 2 shared experts, MoE from layer 1) at a width that runs on a small CPU.
 */
import type { TextFamily } from '../../services/engine/model-types.js';
import type { VlFamily } from '../../services/engine/vl-model-types.js';
import { CheckpointError } from '../../services/engine/weights/errors.js';

export type GenSize = 'tiny' | '0.3b' | 'moe-small' | 'small' | '21b-a3b';

export const GEN_SIZES: Readonly<Record<TextFamily | VlFamily, readonly GenSize[]>> = {
  ernie4_5: ['tiny', '0.3b'],
  ernie4_5_moe: ['tiny', 'moe-small', '21b-a3b'],
  ernie4_5_vl_moe: ['tiny', 'small'], // configs in vl-presets.ts
};

/** Default shard limit per size (tensor-data bytes per file); 0.3b and moe-small give 2 shards. */
export const DEFAULT_MAX_SHARD_BYTES: Readonly<Record<GenSize, number>> = {
  tiny: Infinity,
  '0.3b': 400_000_000,
  'moe-small': 400_000_000,
  small: 400_000_000,
  '21b-a3b': 2_000_000_000,
};

interface Dims {
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  head_dim: number;
  vocab_size: number;
  max_position_embeddings: number;
}

const TINY: Dims = {
  hidden_size: 64,
  intermediate_size: 128,
  num_hidden_layers: 4,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  head_dim: 16,
  vocab_size: 1024,
  max_position_embeddings: 4096,
};

const ERNIE_03B: Dims = {
  hidden_size: 1024,
  intermediate_size: 3072,
  num_hidden_layers: 18,
  num_attention_heads: 16,
  num_key_value_heads: 2,
  head_dim: 128,
  vocab_size: 103424,
  max_position_embeddings: 131072,
};

const MOE_SMALL: Dims = {
  hidden_size: 512,
  intermediate_size: 1536, // dense layer 0
  num_hidden_layers: 8,
  num_attention_heads: 8,
  num_key_value_heads: 2,
  head_dim: 64,
  vocab_size: 103424,
  max_position_embeddings: 131072,
};

/** ERNIE-4.5-21B-A3B (MoE from layer 1: layer 0 is a dense MLP of intermediate_size). */
const ERNIE_21B_A3B: Dims = {
  hidden_size: 2560,
  intermediate_size: 12288,
  num_hidden_layers: 28,
  num_attention_heads: 20,
  num_key_value_heads: 4,
  head_dim: 128,
  vocab_size: 103424,
  max_position_embeddings: 131072,
};

function moeKeys(experts: number, k: number, inter: number, shared: number, layers: number): Record<string, unknown> {
  return {
    moe_num_experts: experts,
    moe_k: k,
    moe_intermediate_size: inter,
    moe_num_shared_experts: shared,
    moe_layer_start_index: 1,
    moe_layer_end_index: layers - 1,
    moe_layer_interval: 1,
    moe_norm_min: 1e-12,
    moe_gate: 'topk',
    moe_use_aux_free: true,
    router_aux_loss_coef: 0.001,
    output_router_logits: false,
  };
}

/** The complete config.json for a family and size (throws 'bad_argument' for an unknown pair). */
export function genModelConfig(family: TextFamily, size: GenSize): Record<string, unknown> {
  if (!GEN_SIZES[family]?.includes(size)) {
    const all = Object.entries(GEN_SIZES)
      .map(([f, s]) => `${f}: ${s.join(', ')}`)
      .join('; ');
    throw new CheckpointError('bad_argument', `no generated size '${size}' for family '${family}' (available — ${all})`);
  }
  const dims = size === 'tiny' ? TINY : size === '0.3b' ? ERNIE_03B : size === '21b-a3b' ? ERNIE_21B_A3B : MOE_SMALL;
  const moe =
    family !== 'ernie4_5_moe'
      ? {}
      : size === 'tiny'
        ? moeKeys(8, 2, 32, 2, dims.num_hidden_layers)
        : moeKeys(64, 6, size === '21b-a3b' ? 1536 : 256, 2, dims.num_hidden_layers);
  return {
    architectures: [family === 'ernie4_5' ? 'Ernie4_5ForCausalLM' : 'Ernie4_5_MoeForCausalLM'],
    model_type: family,
    ...dims,
    hidden_act: 'silu',
    rope_theta: 500000,
    rms_norm_eps: 1e-5,
    tie_word_embeddings: true,
    use_bias: false,
    use_cache: true,
    initializer_range: 0.02,
    bos_token_id: 1,
    eos_token_id: 2,
    pad_token_id: 0,
    ...moe,
    torch_dtype: 'bfloat16',
  };
}

export function genGenerationConfig(): Record<string, unknown> {
  return {
    bos_token_id: 1,
    eos_token_id: 2,
    pad_token_id: 0,
    do_sample: true,
    temperature: 0.8,
    top_p: 0.8,
    repetition_penalty: 1.0,
    frequency_penalty: 0.0,
    presence_penalty: 0.0,
  };
}
