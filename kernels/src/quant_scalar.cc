// Scalar reference for the quantized kernels: the exact int32 sum of each group, then
// acc += float(isum) * ws group by group, then y = acc * xs. The ground truth the SIMD tables are tested against.
#include <algorithm>
#include <vector>

#include "hadamard.inl"
#include "quant.h"

namespace tandem {
namespace {

inline int weight_at(const Linear& W, const uint8_t* row, int k) {
  if (W.bits == 8) return static_cast<int>(row[k]) - 128;
  constexpr int half = kQuantBlock / 2;
  const int b = k / kQuantBlock * kQuantBlock, i = k - b;
  const uint8_t byte = row[b / 2 + i % half];
  return (i < half ? byte & 0xF : byte >> 4) - 8;
}

void gemm_q(const QuantActs& a, int M, const Linear& W, int n0, int n1, float* y, int ldy) {
  const int G = W.group, ng = a.groups;
  std::vector<int32_t> isum(ng);
  for (int m = 0; m < M; ++m) {
    const int8_t* x = a.q + static_cast<int64_t>(m) * a.kp;
    for (int n = n0; n < n1; ++n) {
      const uint8_t* row = W.q + static_cast<int64_t>(n) * W.row_bytes();
      std::fill(isum.begin(), isum.end(), 0);
      // Asymmetric wint4: the group's zero point instead of the implicit 8.
      const uint8_t* z = W.zeros ? W.zeros + static_cast<int64_t>(n) * ng : nullptr;
      for_each_group_element(a.kp, G, [&](int g, int k) { isum[g] += (weight_at(W, row, k) + (z ? 8 - z[g] : 0)) * x[k]; });
      float acc = 0.f;
      for (int g = 0; g < ng; ++g) acc += static_cast<float>(isum[g]) * W.scales[static_cast<int64_t>(n) * ng + g];
      y[static_cast<int64_t>(m) * ldy + (n - n0)] = acc * a.s[m];
    }
  }
}

double mac_loop(int64_t iters, int32_t* sink) {
  int32_t acc[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  for (int64_t it = 0; it < iters; ++it)
    for (int j = 0; j < 8; ++j) acc[j] = acc[j] * 3 + static_cast<int32_t>(it);
  int32_t s = 0;
  for (int j = 0; j < 8; ++j) s += acc[j];
  *sink = s;
  return static_cast<double>(iters) * 8;
}

}  // namespace

const QuantKernels& quant_scalar_kernels() {
  static const QuantKernels table{"scalar", quantize_act_row, gemm_q, gemm_q, hadamard_detail::rotate, mac_loop};
  return table;
}

}  // namespace tandem
