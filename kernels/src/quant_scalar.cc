// Scalar reference for the quantized kernels: the exact int32 sum of each group, then
// acc += float(isum) * ws group by group, then y = acc * xs. The ground truth the SIMD tables are tested against.
#include <algorithm>
#include <cmath>
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

// Byte `i` of row n's codes (i < row_bytes), scale / zero point `g`, in either layout.
struct RowView {
  const uint8_t* q;
  const float* s;
  const uint8_t* z;
  int lane = 0, step = 1;  // panels: entry e of the row is at e * 16 + lane (words for the codes)
  uint8_t byte(int64_t i) const { return step == 1 ? q[i] : q[((i >> 2) * kPanel + lane) * 4 + (i & 3)]; }
  float scale(int g) const { return s[static_cast<int64_t>(g) * step + lane]; }
  int zero(int g) const { return z[static_cast<int64_t>(g) * step + lane]; }
};

RowView row_view(const Linear& W, int n) {
  const int64_t rb = W.row_bytes();
  const int ng = W.groups();
  if (n >= W.panel_rows()) return {W.q + n * rb, W.scales + static_cast<int64_t>(n) * ng, W.zeros + static_cast<int64_t>(n) * ng};
  const PanelView pv = panel_view(W, n / kPanel);
  return {pv.q, pv.s, pv.z, n % kPanel, kPanel};
}

void gemm_q(const QuantActs& a, int M, const Linear& W, int n0, int n1, float* y, int ldy) {
  if (W.panels()) return gemm_q4_panels_scalar(a, M, W, n0, n1, y, ldy);
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

}  // namespace

void gemm_q4_panels_scalar(const QuantActs& a, int M, const Linear& W, int n0, int n1, float* y, int ldy) {
  constexpr int half = kQuantBlock / 2, G = 32;
  const int ng = a.groups;
  for (int n = n0; n < n1; ++n) {
    const RowView r = row_view(W, n);
    for (int m = 0; m < M; ++m) {
      const int8_t* x = a.q + static_cast<int64_t>(m) * a.kp;
      float acc = 0.f;
      for (int g = 0; g < ng; ++g) {
        // Group g: elements k0 + [0, 16) (low nibbles of its 16 code bytes) and + 64 (high).
        const int k0 = group32_start(g), z = r.zero(g);
        const int64_t byte0 = static_cast<int64_t>(g) * (G / 2);  // = k0 / 128 * 64 + (k0 % 128)
        int32_t isum = 0;
        for (int i = 0; i < G / 2; ++i) {
          const uint8_t byte = r.byte(byte0 + i);
          isum += ((byte & 0xF) - z) * x[k0 + i] + ((byte >> 4) - z) * x[k0 + half + i];
        }
        acc = std::fma(static_cast<float>(isum), r.scale(g), acc);
      }
      y[static_cast<int64_t>(m) * ldy + (n - n0)] = acc * a.s[m];
    }
  }
}

namespace {

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
