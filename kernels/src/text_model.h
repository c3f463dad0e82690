// The ERNIE-4.5 text decoder (dense and MoE) over the paged KV cache: one call runs a whole mixed
// batch (prefill chunks and decode tokens of many sequences) and writes logits for chosen rows.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "kernel_table.h"
#include "kv_cache.h"
#include "ops.h"
#include "quant.h"

namespace tandem {

struct MatBf16 {
  const uint16_t* data = nullptr;
  int rows = 0, cols = 0;
};

inline Linear bf16_linear(const MatBf16& m) {
  Linear l;
  l.bf16 = m.data;
  l.rows = m.rows;
  l.cols = m.cols;
  return l;
}

struct MlpWeights {
  Linear gate, up, down;
};

struct LayerWeights {
  const float* input_norm = nullptr;
  const float* post_norm = nullptr;
  Linear q, k, v, o;
  bool moe = false;
  MlpWeights dense;                 // !moe
  const float* router = nullptr;    // moe: [E, hidden] fp32
  const float* router_bias = nullptr;  // moe: [E]
  std::vector<MlpWeights> experts;  // moe
  bool has_shared = false;
  MlpWeights shared;
  // ERNIE-4.5-VL: the experts of vision tokens, with their own router and width. Tokens are
  // routed by modality (ForwardBatch::modality), never across the two sets.
  bool has_vision = false;
  const float* vrouter = nullptr;       // [E, hidden] fp32
  const float* vrouter_bias = nullptr;  // [E]
  std::vector<MlpWeights> vexperts;
};

struct TextModelDims {
  int hidden = 0, heads = 0, kv_heads = 0, head_dim = 0, vocab = 0, layers = 0;
  int intermediate = 0;
  int num_experts = 0, top_k = 0, moe_intermediate = 0, shared_intermediate = 0;
  float eps = 1e-5f, rope_theta = 10000.f, moe_norm_min = 1e-12f;
  int vision_moe_intermediate = 0;  // VL: width of the vision experts
  int rope_t_pairs = 0;             // VL: rotary pairs turned by the temporal position (3-D RoPE)
  int max_tokens = 0;  // tokens per forward call
  int max_ctx = 0;     // longest context a sequence may reach
};

struct TextModelWeights {
  const uint16_t* embed = nullptr;  // [vocab, hidden]
  Linear lm_head;                     // [vocab, hidden]
  const float* final_norm = nullptr;
  std::vector<LayerWeights> layers;
};

struct ForwardBatch {
  int T = 0;                    // tokens in this step
  const int32_t* ids = nullptr;       // [T]
  const int32_t* positions = nullptr; // [T]
  int S = 0;                    // sequences
  const int32_t* q_start = nullptr;   // [S + 1]: tokens of sequence s are [q_start[s], q_start[s+1])
  const int32_t* block_tables = nullptr;  // [S, bt_stride]
  int bt_stride = 0;
  int L = 0;                    // logits rows
  const int32_t* logit_rows = nullptr;  // [L] token indices
  // ERNIE-4.5-VL inputs, all optional. embeds[i] ([n_embeds, hidden]) replaces the embedding of
  // token embed_rows[i]; modality[t] = 1 sends token t to the vision experts; rope3 holds (t, h, w)
  // RoPE positions per token (positions[] stays the KV slot and causal index).
  int n_embeds = 0;
  const int32_t* embed_rows = nullptr;
  const float* embeds = nullptr;
  const int32_t* modality = nullptr;
  const int32_t* rope3 = nullptr;
};

class TextModel {
 public:
  TextModel(const TextModelDims& dims, TextModelWeights weights, Isa isa);
  ~TextModel();
  TextModel(const TextModel&) = delete;
  TextModel& operator=(const TextModel&) = delete;

  // Empty string when the batch is valid for this model and cache; else what is wrong.
  std::string validate(const ForwardBatch& b, const KvLayout& kv) const;
  // Called from the compute thread after layer l's K/V of every token in the batch are in the
  // cache (later layers still to run), so a prefill worker can push that layer's KV meanwhile.
  using LayerDone = std::function<void(int layer)>;
  // logits: [L, vocab]
  void forward(const ForwardBatch& b, const KvLayout& kv, float* logits, const LayerDone& on_layer_done = nullptr);

  const TextModelDims& dims() const { return d_; }

 private:
  void attention_block(int layer, const ForwardBatch& b, const KvLayout& kv);
  void mlp(const MlpWeights& w, const float* x, int rows, float* out);
  void linear(const Linear& w, const float* x, int rows, float* y) { op_linear(kt_, qk_, x, rows, w, y, scratch_, qacts_); }
  void moe_block(const LayerWeights& lw, int T, const int32_t* modality = nullptr);
  void route_vision(const LayerWeights& lw, int T, const int32_t* modality);  // vl_text_model.cc

  TextModelDims d_;
  TextModelWeights w_;
  const KernelTable& kt_;
  const QuantKernels& qk_;
  QuantActsBuf qacts_;
  std::vector<float> inv_freq_;
  // Activations, sized once for max_tokens (nothing is allocated per call).
  std::vector<float> x_, xn_, q_, k_, v_, attn_, tmp_, g_, u_, act_;
  std::vector<float> router_logits_, vrouter_logits_, route_w_, moe_in_, moe_out_, slot_out_, logits_in_;
  std::vector<int32_t> route_sel_, tok_seq_, expert_rows_, expert_count_, tok_fill_, chunk_start_;
  int n_chunks_ = 0;
  std::vector<int64_t> slots_;
  std::vector<float> scratch_mem_;
  Scratch scratch_;
};

}  // namespace tandem
