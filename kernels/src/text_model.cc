#include "text_model.h"

#include <algorithm>
#include <cstring>

#include "thread_pool.h"
#include "vl_ops.h"

namespace tandem {

TextModel::TextModel(const TextModelDims& dims, TextModelWeights weights, Isa isa)
    : d_(dims), w_(std::move(weights)), kt_(kernels_for(isa)), qk_(quant_kernels_for(isa)) {
  const int64_t T = d_.max_tokens, H = d_.hidden;
  const int64_t qw = static_cast<int64_t>(d_.heads) * d_.head_dim;
  const int64_t kvw = static_cast<int64_t>(d_.kv_heads) * d_.head_dim;
  const int64_t inter =
      std::max({d_.intermediate, d_.moe_intermediate, d_.shared_intermediate, d_.vision_moe_intermediate, 1});
  inv_freq_.resize(d_.head_dim / 2);
  rope_inv_freq(d_.head_dim, d_.rope_theta, inv_freq_.data());
  x_.resize(T * H);
  xn_.resize(T * H);
  tmp_.resize(T * H);
  q_.resize(T * qw);
  attn_.resize(T * qw);
  k_.resize(T * kvw);
  v_.resize(T * kvw);
  g_.resize(T * inter);
  u_.resize(T * inter);
  act_.resize(T * inter);
  tok_seq_.resize(T);
  chunk_start_.resize(T + 1);
  slots_.resize(T);
  if (d_.num_experts > 0) {
    const int64_t K = d_.top_k;
    router_logits_.resize(T * d_.num_experts);
    vrouter_logits_.resize(T * d_.num_experts);
    route_sel_.resize(T * K);
    route_w_.resize(T * K);
    moe_in_.resize(T * H);
    moe_out_.resize(T * H);
    slot_out_.resize(T * K * H);
    expert_rows_.resize(T * K);
    expert_count_.resize(2 * d_.num_experts + 1);  // text experts, then (VL) vision experts
    tok_fill_.reserve(2 * d_.num_experts + 1);
  }
  const int max_k = static_cast<int>(std::max<int64_t>({H, qw, inter}));
  scratch_.per_thread = scratch_floats_per_thread(max_k, d_.head_dim, d_.heads / d_.kv_heads);
  // Sized for the pool as it is now; forward() re-checks in case the pool grew since.
  scratch_mem_.resize(scratch_.per_thread * std::max(pool().size(), 1));
  scratch_.base = scratch_mem_.data();
}

TextModel::~TextModel() = default;

std::string TextModel::validate(const ForwardBatch& b, const KvLayout& kv) const {
  if (b.T <= 0) return "the batch has no tokens";
  if (b.T > d_.max_tokens)
    return "the batch has " + std::to_string(b.T) + " tokens, more than max_tokens " + std::to_string(d_.max_tokens);
  if (b.S <= 0) return "the batch has no sequences";
  if (kv.layers != d_.layers || kv.kv_heads != d_.kv_heads || kv.head_dim != d_.head_dim)
    return "the KV cache shape does not match the model (layers, kv_heads, head_dim)";
  if (b.q_start[0] != 0 || b.q_start[b.S] != b.T) return "q_start must start at 0 and end at T";
  for (int s = 0; s < b.S; ++s)
    if (b.q_start[s + 1] <= b.q_start[s]) return "sequence " + std::to_string(s) + " has no tokens in q_start";
  for (int s = 0; s < b.S; ++s)
    for (int t = b.q_start[s] + 1; t < b.q_start[s + 1]; ++t)
      if (b.positions[t] <= b.positions[t - 1]) return "positions must ascend within sequence " + std::to_string(s);
  for (int t = 0; t < b.T; ++t) {
    if (b.ids[t] < 0 || b.ids[t] >= d_.vocab) return "token id " + std::to_string(b.ids[t]) + " is outside the vocabulary";
    if (b.positions[t] < 0 || b.positions[t] >= d_.max_ctx)
      return "position " + std::to_string(b.positions[t]) + " is outside [0, max_ctx)";
  }
  for (int s = 0; s < b.S; ++s) {
    int last = b.positions[b.q_start[s + 1] - 1];
    int need = last / kv.block_size + 1;
    if (need > b.bt_stride) return "sequence " + std::to_string(s) + " needs more blocks than its block table row holds";
    for (int i = 0; i < need; ++i) {
      int blk = b.block_tables[static_cast<int64_t>(s) * b.bt_stride + i];
      if (blk < 0 || blk >= kv.num_blocks)
        return "sequence " + std::to_string(s) + " has invalid block id " + std::to_string(blk);
    }
  }
  for (int i = 0; i < b.n_embeds; ++i)
    if (b.embed_rows[i] < 0 || b.embed_rows[i] >= b.T) return "embedding row outside [0, T)";
  for (int t = 0; b.modality && t < b.T; ++t)
    if (b.modality[t] != 0 && b.modality[t] != 1) return "modality must be 0 (text) or 1 (vision)";
  for (int i = 0; b.rope3 && i < 3 * b.T; ++i)
    if (b.rope3[i] < 0) return "RoPE positions must be non-negative";
  if (b.L < 0 || b.L > b.T) return "logit row count must be within [0, T]";
  for (int i = 0; i < b.L; ++i)
    if (b.logit_rows[i] < 0 || b.logit_rows[i] >= b.T) return "logit row outside [0, T)";
  return "";
}

void TextModel::mlp(const MlpWeights& w, const float* x, int rows, float* out) {
  const int inter = w.gate.rows;
  const LinearOut gate_up[] = {{&w.gate, g_.data()}, {&w.up, u_.data()}};
  op_linears(kt_, qk_, x, rows, gate_up, 2, scratch_, qacts_);
  op_silu_mul(g_.data(), u_.data(), static_cast<int64_t>(rows) * inter, act_.data());
  linear(w.down, act_.data(), rows, out);
}

void TextModel::attention_block(int layer, const ForwardBatch& b, const KvLayout& kv) {
  const LayerWeights& lw = w_.layers[layer];
  const int T = b.T;
  const LinearOut qkv[] = {{&lw.q, q_.data()}, {&lw.k, k_.data()}, {&lw.v, v_.data()}};
  op_linears(kt_, qk_, xn_.data(), T, qkv, 3, scratch_, qacts_);
  if (b.rope3) {  // VL: (t, h, w) positions; equal to the 1-D rotation for text tokens
    op_rope_3d(q_.data(), T, d_.heads, d_.head_dim, b.rope3, d_.rope_t_pairs, inv_freq_.data());
    op_rope_3d(k_.data(), T, d_.kv_heads, d_.head_dim, b.rope3, d_.rope_t_pairs, inv_freq_.data());
  } else {
    op_rope_interleaved(q_.data(), T, d_.heads, d_.head_dim, b.positions, inv_freq_.data());
    op_rope_interleaved(k_.data(), T, d_.kv_heads, d_.head_dim, b.positions, inv_freq_.data());
  }
  // Attention reads K/V back from the cache only, so every key is rounded to the cache dtype
  // whether it was computed in this step or an earlier one (the determinism contract).
  op_kv_store(k_.data(), v_.data(), T, slots_.data(), kv, layer);
  AttentionArgs a{q_.data(), T,        d_.heads,          d_.kv_heads,        d_.head_dim, b.positions, tok_seq_.data(),
                  b.block_tables, b.bt_stride, chunk_start_.data(), n_chunks_,       attn_.data()};
  op_attention(kt_, a, kv, layer, scratch_);
  linear(lw.o, attn_.data(), T, tmp_.data());
}

void TextModel::moe_block(const LayerWeights& lw, int T, const int32_t* modality) {
  const int H = d_.hidden, E = d_.num_experts, K = d_.top_k;
  op_gemm_f32(kt_, xn_.data(), T, H, lw.router, E, router_logits_.data());
  op_moe_route(router_logits_.data(), T, E, lw.router_bias, K, d_.moe_norm_min, route_sel_.data(), route_w_.data());
  // VL: vision tokens are re-routed among the vision experts, numbered E..2E-1 below.
  const int NE = modality && lw.has_vision ? 2 * E : E;
  if (NE > E) route_vision(lw, T, modality);
  // Group (token, slot) pairs by expert, in token order, then run each expert once on its rows.
  std::fill(expert_count_.begin(), expert_count_.end(), 0);
  for (int i = 0; i < T * K; ++i) expert_count_[route_sel_[i] + 1]++;
  for (int e = 0; e < NE; ++e) expert_count_[e + 1] += expert_count_[e];
  std::vector<int32_t>& fill = tok_fill_;
  fill.assign(expert_count_.begin(), expert_count_.end() - 1);
  for (int i = 0; i < T * K; ++i) expert_rows_[fill[route_sel_[i]]++] = i;
  for (int e = 0; e < NE; ++e) {
    const int begin = expert_count_[e], rows = expert_count_[e + 1] - begin;
    if (rows == 0) continue;
    for (int r = 0; r < rows; ++r) {
      const int tok = expert_rows_[begin + r] / K;
      std::memcpy(moe_in_.data() + static_cast<int64_t>(r) * H, xn_.data() + static_cast<int64_t>(tok) * H,
                  sizeof(float) * H);
    }
    mlp(e < E ? lw.experts[e] : lw.vexperts[e - E], moe_in_.data(), rows, moe_out_.data());
    for (int r = 0; r < rows; ++r)
      std::memcpy(slot_out_.data() + static_cast<int64_t>(expert_rows_[begin + r]) * H,
                  moe_out_.data() + static_cast<int64_t>(r) * H, sizeof(float) * H);
  }
  // Shared experts see every token; their output lands in moe_out_ (free again now).
  if (lw.has_shared) mlp(lw.shared, xn_.data(), T, moe_out_.data());
  // Combine in slot order (a fixed order, whatever the grouping was), then add the shared part.
  for (int t = 0; t < T; ++t) {
    float* out = tmp_.data() + static_cast<int64_t>(t) * H;
    std::memset(out, 0, sizeof(float) * H);
    for (int j = 0; j < K; ++j) {
      const float w = route_w_[static_cast<int64_t>(t) * K + j];
      const float* y = slot_out_.data() + (static_cast<int64_t>(t) * K + j) * H;
      for (int c = 0; c < H; ++c) out[c] += w * y[c];
    }
    if (lw.has_shared) {
      const float* sh = moe_out_.data() + static_cast<int64_t>(t) * H;
      for (int c = 0; c < H; ++c) out[c] += sh[c];
    }
  }
}

void TextModel::forward(const ForwardBatch& b, const KvLayout& kv, float* logits, const LayerDone& on_layer_done) {
  if (static_cast<int64_t>(scratch_mem_.size()) < scratch_.per_thread * pool().size()) {
    scratch_mem_.resize(scratch_.per_thread * pool().size());
    scratch_.base = scratch_mem_.data();
  }
  const int T = b.T, H = d_.hidden;
  for (int s = 0; s < b.S; ++s)
    for (int t = b.q_start[s]; t < b.q_start[s + 1]; ++t) {
      tok_seq_[t] = s;
      const int p = b.positions[t];
      const int64_t blk = b.block_tables[static_cast<int64_t>(s) * b.bt_stride + p / kv.block_size];
      slots_[t] = blk * kv.block_size + p % kv.block_size;
    }
  n_chunks_ = build_attention_chunks(tok_seq_.data(), T, chunk_start_.data());
  op_embedding(kt_, w_.embed, b.ids, T, H, x_.data());
  for (int i = 0; i < b.n_embeds; ++i)  // VL: image tokens come from the vision encoder
    std::memcpy(x_.data() + static_cast<int64_t>(b.embed_rows[i]) * H, b.embeds + static_cast<int64_t>(i) * H,
                sizeof(float) * H);
  for (int l = 0; l < d_.layers; ++l) {
    const LayerWeights& lw = w_.layers[l];
    op_rmsnorm(kt_, x_.data(), T, H, lw.input_norm, d_.eps, xn_.data());
    attention_block(l, b, kv);
    if (on_layer_done) on_layer_done(l);
    op_add_inplace(x_.data(), tmp_.data(), static_cast<int64_t>(T) * H);
    op_rmsnorm(kt_, x_.data(), T, H, lw.post_norm, d_.eps, xn_.data());
    if (lw.moe) moe_block(lw, T, b.modality);
    else mlp(lw.dense, xn_.data(), T, tmp_.data());
    op_add_inplace(x_.data(), tmp_.data(), static_cast<int64_t>(T) * H);
  }
  if (b.L == 0) return;
  for (int i = 0; i < b.L; ++i)
    std::memcpy(tmp_.data() + static_cast<int64_t>(i) * H, x_.data() + static_cast<int64_t>(b.logit_rows[i]) * H,
                sizeof(float) * H);
  op_rmsnorm(kt_, tmp_.data(), b.L, H, w_.final_norm, d_.eps, xn_.data());
  linear(w_.lm_head, xn_.data(), b.L, logits);
}

}  // namespace tandem
