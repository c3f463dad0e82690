/**
 * Generated ERNIE-4.5-VL MoE sizes as complete config.json objects in the transformers layout
 * (`text_config`, `vision_config`, image token ids). `tiny` runs in tests in seconds; `small`
 * keeps the real routing (64 text + 64 vision experts, top-6, vision experts 1/3 as wide, 2 shared)
 * and a real-width ViT head (80) at a size a CPU can benchmark.
 */
import { CheckpointError } from '../../services/engine/weights/errors.js';

export type VlGenSize = 'tiny' | 'small';
export const VL_GEN_SIZES: readonly VlGenSize[] = ['tiny', 'small'];

interface VlDims {
  text: { hidden: number; inter: number; layers: number; heads: number; kvHeads: number; headDim: number; vocab: number; experts: number; k: number; moeInter: [number, number]; mrope: [number, number, number] };
  vision: { depth: number; hidden: number; heads: number };
}

const DIMS: Record<VlGenSize, VlDims> = {
  tiny: {
    text: { hidden: 64, inter: 128, layers: 3, heads: 4, kvHeads: 2, headDim: 16, vocab: 1024, experts: 4, k: 2, moeInter: [48, 16], mrope: [3, 3, 2] },
    vision: { depth: 2, hidden: 32, heads: 2 },
  },
  small: {
    text: { hidden: 512, inter: 1536, layers: 8, heads: 8, kvHeads: 2, headDim: 64, vocab: 103424, experts: 64, k: 6, moeInter: [384, 128], mrope: [11, 11, 10] },
    vision: { depth: 8, hidden: 640, heads: 8 },
  },
};

/** Token ids of the image pieces; the generated tokenizer's ids, checked when it is written. */
export interface VlTokenIds {
  image: number;
  imageStart: number;
  imageEnd: number;
  video: number;
  videoStart: number;
  videoEnd: number;
}

export function genVlModelConfig(size: VlGenSize, ids: VlTokenIds): Record<string, unknown> {
  const d = DIMS[size];
  if (!d) throw new CheckpointError('bad_argument', `no generated size '${size}' for family 'ernie4_5_vl_moe' (available — ${VL_GEN_SIZES.join(', ')})`);
  const t = d.text;
  const tokens = { bos_token_id: 1, eos_token_id: 2, pad_token_id: 0 };
  return {
    architectures: ['Ernie4_5_VLMoeForConditionalGeneration'],
    model_type: 'ernie4_5_vl_moe',
    text_config: {
      model_type: 'ernie4_5_vl_moe_text',
      hidden_size: t.hidden,
      intermediate_size: t.inter,
      num_hidden_layers: t.layers,
      num_attention_heads: t.heads,
      num_key_value_heads: t.kvHeads,
      head_dim: t.headDim,
      vocab_size: t.vocab,
      max_position_embeddings: 131072,
      hidden_act: 'silu',
      rms_norm_eps: 1e-5,
      use_bias: false,
      tie_word_embeddings: true,
      use_cache: true,
      moe_num_experts: t.experts,
      moe_k: t.k,
      moe_intermediate_size: t.moeInter,
      moe_num_shared_experts: 2,
      moe_norm_min: 1e-12,
      mlp_layer_types: Array.from({ length: t.layers }, (_, i) => (i === 0 ? 'dense' : 'sparse')),
      rope_parameters: { rope_type: 'default', rope_theta: 500000, mrope_section: t.mrope },
      ...tokens,
    },
    vision_config: {
      model_type: 'ernie4_5_vl_moe_vision',
      depth: d.vision.depth,
      hidden_size: d.vision.hidden,
      hidden_act: 'quick_gelu',
      intermediate_size: 4 * d.vision.hidden,
      num_heads: d.vision.heads,
      in_channels: 3,
      patch_size: 14,
      spatial_merge_size: 2,
      temporal_merge_size: 2,
      rms_norm_eps: 1e-6,
    },
    image_token_id: ids.image,
    image_start_token_id: ids.imageStart,
    image_end_token_id: ids.imageEnd,
    video_token_id: ids.video,
    video_start_token_id: ids.videoStart,
    video_end_token_id: ids.videoEnd,
    tie_word_embeddings: true,
    ...tokens,
    torch_dtype: 'bfloat16',
  };
}
