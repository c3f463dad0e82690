// The ERNIE-4.5-VL vision side: the ViT (linear patch embedding, 2-D RoPE, non-causal attention
// per image, quick-GELU MLP, LayerNorm) and the resampler that merges 2x2 patches (and the frame
// pair of the temporal merge) into tokens of the text model's width. One call encodes a list of
// images; each image's tokens depend on that image alone.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kernel_table.h"
#include "ops.h"
#include "text_model.h"

namespace tandem {

struct VisionDims {
  int patch = 14, channels = 3, hidden = 0, heads = 0, depth = 0, intermediate = 0;
  int merge = 2;        // spatial merge (m x m patches per token)
  int text_hidden = 0;  // width of the tokens handed to the text model
  float ln_eps = 1e-6f, text_eps = 1e-5f, rope_theta = 10000.f;
  int head_dim() const { return hidden / heads; }
};

struct VisionBlockWeights {
  const float *norm1_w = nullptr, *norm1_b = nullptr, *norm2_w = nullptr, *norm2_b = nullptr;
  MatBf16 qkv, proj, fc1, fc2;  // qkv rows: all q heads, then all k heads, then all v heads
  const float *qkv_b = nullptr, *proj_b = nullptr, *fc1_b = nullptr, *fc2_b = nullptr;
};

// fc1 -> GELU -> fc2 -> LayerNorm (the resampler's spatial and temporal stages).
struct ResamplerStage {
  MatBf16 fc1, fc2;
  const float *fc1_b = nullptr, *fc2_b = nullptr, *ln_w = nullptr, *ln_b = nullptr;
};

struct VisionWeights {
  MatBf16 patch_embed;  // [hidden, channels * patch * patch], no bias
  std::vector<VisionBlockWeights> blocks;
  const float *ln_w = nullptr, *ln_b = nullptr;
  ResamplerStage spatial, temporal;
  MatBf16 mlp;  // [text_hidden, hidden * merge^2]
  const float* mlp_b = nullptr;
  const float* after_norm = nullptr;  // RMSNorm [text_hidden]
};

class VisionModel {
 public:
  VisionModel(const VisionDims& dims, VisionWeights weights, Isa isa);
  VisionModel(const VisionModel&) = delete;
  VisionModel& operator=(const VisionModel&) = delete;

  // grid: n_images x (t, h, w) in patches; empty when valid, else what is wrong.
  std::string validate(const int32_t* grid, int n_images) const;
  static int64_t patch_count(const int32_t* grid, int n_images);
  int64_t pixel_count(const int32_t* grid, int n_images) const;
  // pixels: the images one after another, each [channels, h*patch, w*patch] fp32 (normalized).
  // out: [patches / merge^2, text_hidden]; vit_out (optional): the ViT output [patches, hidden]
  // in patch order (see op_patchify).
  void encode(const float* pixels, const int32_t* grid, int n_images, float* out, float* vit_out = nullptr);

  const VisionDims& dims() const { return d_; }

 private:
  void block(const VisionBlockWeights& w, int N);
  void stage(const ResamplerStage& w, const float* x, int rows, int in_dim, float* out);
  void ensure_capacity(int64_t N);

  VisionDims d_;
  VisionWeights w_;
  const KernelTable& kt_;
  std::vector<float> inv_freq_;
  int64_t capacity_ = 0;  // patches the buffers below hold; they grow, never shrink
  std::vector<float> patches_, x_, xn_, qkv_, attn_, tmp_, mlp_, r1_, r2_, r3_;
  std::vector<int32_t> pos_h_, pos_w_, seg_;
  std::vector<float> scratch_mem_, attn_scratch_;
  Scratch scratch_;
};

}  // namespace tandem
