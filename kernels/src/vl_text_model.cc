// The modality routing of the ERNIE-4.5-VL decoder (a TextModel member kept apart from the text
// path): vision tokens are routed by the vision router among the vision experts only.
#include <cstring>

#include "text_model.h"

namespace tandem {

// After the text routing of every token: overwrite the choice of each vision token with its
// vision routing, expert ids offset by E (moe_block runs ids E..2E-1 on lw.vexperts). The vision
// router sees only vision rows, gathered in token order; its per-row arithmetic does not depend on
// which other rows are present, so a token's routing is batch-invariant.
void TextModel::route_vision(const LayerWeights& lw, int T, const int32_t* modality) {
  const int H = d_.hidden, E = d_.num_experts, K = d_.top_k;
  int nv = 0;
  for (int t = 0; t < T; ++t)
    if (modality[t]) {
      std::memcpy(moe_in_.data() + static_cast<int64_t>(nv) * H, xn_.data() + static_cast<int64_t>(t) * H, sizeof(float) * H);
      ++nv;
    }
  if (nv == 0) return;
  op_gemm_f32(kt_, moe_in_.data(), nv, H, lw.vrouter, E, vrouter_logits_.data());
  int v = 0;
  for (int t = 0; t < T; ++t) {
    if (!modality[t]) continue;
    int32_t* sel = route_sel_.data() + static_cast<int64_t>(t) * K;
    op_moe_route(vrouter_logits_.data() + static_cast<int64_t>(v) * E, 1, E, lw.vrouter_bias, K, d_.moe_norm_min, sel,
                 route_w_.data() + static_cast<int64_t>(t) * K);
    for (int j = 0; j < K; ++j) sel[j] += E;
    ++v;
  }
}

}  // namespace tandem
