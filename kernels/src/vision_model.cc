#include "vision_model.h"

#include <algorithm>
#include <cstring>

#include "thread_pool.h"
#include "vl_ops.h"

namespace tandem {

VisionModel::VisionModel(const VisionDims& dims, VisionWeights weights, Isa isa)
    : d_(dims), w_(std::move(weights)), kt_(kernels_for(isa)) {
  inv_freq_.resize(std::max(d_.head_dim() / 4, 1));
  vision_rope_inv_freq(d_.head_dim(), d_.rope_theta, inv_freq_.data());
  const int m2 = d_.merge * d_.merge;
  const int max_k = std::max({d_.channels * d_.patch * d_.patch, d_.hidden, d_.intermediate, 2 * m2 * d_.hidden});
  scratch_.per_thread = (static_cast<int64_t>(gemm_scratch_floats(max_k)) + 15) / 16 * 16;
}

int64_t VisionModel::patch_count(const int32_t* grid, int n_images) {
  int64_t n = 0;
  for (int i = 0; i < n_images; ++i) n += static_cast<int64_t>(grid[3 * i]) * grid[3 * i + 1] * grid[3 * i + 2];
  return n;
}

int64_t VisionModel::pixel_count(const int32_t* grid, int n_images) const {
  return patch_count(grid, n_images) * d_.channels * d_.patch * d_.patch;
}

std::string VisionModel::validate(const int32_t* grid, int n_images) const {
  if (n_images <= 0) return "no images";
  for (int i = 0; i < n_images; ++i) {
    const int t = grid[3 * i], h = grid[3 * i + 1], w = grid[3 * i + 2];
    const std::string which = "image " + std::to_string(i);
    // Video (t > 1, frames merged in pairs) is not supported: images are one frame.
    if (t != 1) return which + " has t=" + std::to_string(t) + "; only still images (t=1) are supported";
    if (h <= 0 || w <= 0 || h % d_.merge || w % d_.merge)
      return which + " grid " + std::to_string(h) + "x" + std::to_string(w) + " must be positive multiples of " +
             std::to_string(d_.merge) + " patches";
    if (static_cast<int64_t>(h) * w > (1 << 20)) return which + " has too many patches";
  }
  return "";
}

void VisionModel::ensure_capacity(int64_t N) {
  const int pool_threads = std::max(pool().size(), 1);
  if (static_cast<int64_t>(scratch_mem_.size()) < scratch_.per_thread * pool_threads) {
    scratch_mem_.resize(scratch_.per_thread * pool_threads);
    scratch_.base = scratch_mem_.data();
  }
  const int64_t att = full_attention_scratch_floats(d_.head_dim());
  if (static_cast<int64_t>(attn_scratch_.size()) < att * pool_threads) attn_scratch_.resize(att * pool_threads);
  if (N <= capacity_) return;
  const int64_t H = d_.hidden, P = static_cast<int64_t>(d_.channels) * d_.patch * d_.patch;
  const int64_t m2 = static_cast<int64_t>(d_.merge) * d_.merge;
  patches_.resize(N * P);
  x_.resize(N * H);
  xn_.resize(N * H);
  qkv_.resize(N * 3 * H);
  attn_.resize(N * H);
  tmp_.resize(N * H);
  mlp_.resize(N * std::max<int64_t>(d_.intermediate, 1));
  // Resampler rows are N / m2 tokens, each up to 2 * m2 * H wide (the duplicated frame).
  r1_.resize(N / m2 * 2 * m2 * H + 1);
  r2_.resize(N / m2 * m2 * H + 1);
  r3_.resize(N / m2 * m2 * H + 1);
  pos_h_.resize(N);
  pos_w_.resize(N);
  capacity_ = N;
}

void VisionModel::block(const VisionBlockWeights& w, int N) {
  const int H = d_.hidden, hd = d_.head_dim();
  op_layernorm(kt_, x_.data(), N, H, w.norm1_w, w.norm1_b, d_.ln_eps, xn_.data());
  op_linear_bf16(kt_, xn_.data(), N, H, w.qkv.data, 3 * H, w.qkv_b, qkv_.data(), scratch_);
  op_rope_vision2d(qkv_.data(), N, 3 * H, d_.heads, hd, pos_h_.data(), pos_w_.data(), inv_freq_.data());
  op_rope_vision2d(qkv_.data() + H, N, 3 * H, d_.heads, hd, pos_h_.data(), pos_w_.data(), inv_freq_.data());
  FullAttentionArgs a{qkv_.data(), qkv_.data() + H, qkv_.data() + 2 * H, 3 * H, d_.heads, hd,
                      seg_.data(), static_cast<int>(seg_.size()) - 1, attn_.data()};
  op_full_attention(kt_, a, attn_scratch_.data(), full_attention_scratch_floats(hd));
  op_linear_bf16(kt_, attn_.data(), N, H, w.proj.data, H, w.proj_b, tmp_.data(), scratch_);
  op_add_inplace(x_.data(), tmp_.data(), static_cast<int64_t>(N) * H);
  op_layernorm(kt_, x_.data(), N, H, w.norm2_w, w.norm2_b, d_.ln_eps, xn_.data());
  op_linear_bf16(kt_, xn_.data(), N, H, w.fc1.data, d_.intermediate, w.fc1_b, mlp_.data(), scratch_);
  op_quick_gelu(mlp_.data(), static_cast<int64_t>(N) * d_.intermediate);
  op_linear_bf16(kt_, mlp_.data(), N, d_.intermediate, w.fc2.data, H, w.fc2_b, tmp_.data(), scratch_);
  op_add_inplace(x_.data(), tmp_.data(), static_cast<int64_t>(N) * H);
}

void VisionModel::stage(const ResamplerStage& w, const float* x, int rows, int in_dim, float* out) {
  const int D = w.fc1.rows;
  op_linear_bf16(kt_, x, rows, in_dim, w.fc1.data, D, w.fc1_b, r3_.data(), scratch_);
  op_gelu_erf(r3_.data(), static_cast<int64_t>(rows) * D);
  op_linear_bf16(kt_, r3_.data(), rows, D, w.fc2.data, D, w.fc2_b, out, scratch_);
  op_layernorm(kt_, out, rows, D, w.ln_w, w.ln_b, d_.ln_eps, out);
}

void VisionModel::encode(const float* pixels, const int32_t* grid, int n_images, float* out, float* vit_out) {
  const int64_t N64 = patch_count(grid, n_images);
  ensure_capacity(N64);
  const int N = static_cast<int>(N64), H = d_.hidden, p = d_.patch;
  const int P = d_.channels * p * p;
  seg_.assign(1, 0);
  int64_t row = 0, pix = 0;
  for (int i = 0; i < n_images; ++i) {
    const int gh = grid[3 * i + 1], gw = grid[3 * i + 2];
    op_patchify(pixels + pix, d_.channels, gh * p, gw * p, p, d_.merge, patches_.data() + row * P, pos_h_.data() + row,
                pos_w_.data() + row);
    row += static_cast<int64_t>(gh) * gw;
    pix += static_cast<int64_t>(gh) * gw * P;
    seg_.push_back(static_cast<int32_t>(row));
  }
  op_gemm_bf16(kt_, patches_.data(), N, P, w_.patch_embed.data, H, x_.data(), scratch_);
  for (const VisionBlockWeights& b : w_.blocks) block(b, N);
  op_layernorm(kt_, x_.data(), N, H, w_.ln_w, w_.ln_b, d_.ln_eps, x_.data());
  if (vit_out) std::memcpy(vit_out, x_.data(), sizeof(float) * N64 * H);
  // Spatial merge: m*m consecutive patches are one token, so x_ read as [N/m2, m2*H] is the merge.
  const int m2 = d_.merge * d_.merge, tokens = N / m2, D = m2 * H;
  stage(w_.spatial, x_.data(), tokens, D, r2_.data());
  op_duplicate_frame(r2_.data(), tokens, D, r1_.data());
  stage(w_.temporal, r1_.data(), tokens, 2 * D, r2_.data());
  op_linear_bf16(kt_, r2_.data(), tokens, D, w_.mlp.data, d_.text_hidden, w_.mlp_b, out, scratch_);
  op_rmsnorm(kt_, out, tokens, d_.text_hidden, w_.after_norm, d_.text_eps, out);
}

}  // namespace tandem
