// Scalar reference kernels: plain loops, one accumulator, sequential order. They are the portable
// fallback and the ground truth the vectorized tables are compared against in tests.
#include <cmath>

#include "bf16.h"
#include "kernel_table.h"

namespace tandem {
namespace {

void gemm_bf16(const float* x, int ldx, int M, int K, const uint16_t* W, int n0, int n1, float* y, int ldy,
               float* /*scratch*/) {
  for (int m = 0; m < M; ++m)
    for (int n = n0; n < n1; ++n) {
      const uint16_t* w = W + static_cast<int64_t>(n) * K;
      float acc = 0.f;
      for (int k = 0; k < K; ++k) acc += x[static_cast<int64_t>(m) * ldx + k] * bf16_to_f32(load_u16(w + k));
      y[static_cast<int64_t>(m) * ldy + (n - n0)] = acc;
    }
}

void gemm_f32(const float* x, int ldx, int M, int K, const float* W, int n0, int n1, float* y, int ldy) {
  for (int m = 0; m < M; ++m)
    for (int n = n0; n < n1; ++n) {
      const float* w = W + static_cast<int64_t>(n) * K;
      float acc = 0.f;
      for (int k = 0; k < K; ++k) acc += x[static_cast<int64_t>(m) * ldx + k] * w[k];
      y[static_cast<int64_t>(m) * ldy + (n - n0)] = acc;
    }
}

float dot_bf16(const float* a, const uint16_t* b, int n) {
  float acc = 0.f;
  for (int i = 0; i < n; ++i) acc += a[i] * bf16_to_f32(load_u16(b + i));
  return acc;
}

float dot_f32(const float* a, const float* b, int n) {
  float acc = 0.f;
  for (int i = 0; i < n; ++i) acc += a[i] * b[i];
  return acc;
}

void axpy_bf16(float a, const uint16_t* v, float* out, int n) {
  for (int i = 0; i < n; ++i) out[i] += a * bf16_to_f32(load_u16(v + i));
}

void axpy_f32(float a, const float* v, float* out, int n) {
  for (int i = 0; i < n; ++i) out[i] += a * v[i];
}

float sum_squares(const float* x, int n) {
  float acc = 0.f;
  for (int i = 0; i < n; ++i) acc += x[i] * x[i];
  return acc;
}

void bf16_to_f32_row(const uint16_t* in, float* out, int n) {
  for (int i = 0; i < n; ++i) out[i] = bf16_to_f32(load_u16(in + i));
}

void attn_scores16(const float* const* q, int nq, const float* kt, int hd, float scale, float* s) {
  for (int i = 0; i < nq; ++i)
    for (int j = 0; j < 16; ++j) {
      float acc = 0.f;
      for (int d = 0; d < hd; ++d) acc += q[i][d] * kt[d * 16 + j];
      s[i * 16 + j] = acc * scale;
    }
}

float attn_exp16(float* s, int n, float m) {
  float sum = 0.f;
  for (int j = 0; j < 16; ++j) {
    s[j] = j < n ? std::exp(s[j] - m) : 0.f;
    sum += s[j];
  }
  return sum;
}

void attn_pv16(const float* p, int n, const float* v, int hd, float scale, float* out) {
  for (int d = 0; d < hd; ++d) {
    float o = out[d] * scale;
    for (int j = 0; j < n; ++j) o += p[j] * v[j * hd + d];
    out[d] = o;
  }
}

void attn_pv16_rows(const float* p, int nq, int n, const float* v, int hd, const float* scales, float* const* outs) {
  for (int i = 0; i < nq; ++i) attn_pv16(p + 16 * i, n, v, hd, scales[i], outs[i]);
}

float stream_sum(const float* x, int64_t n) {
  float acc = 0.f;
  for (int64_t i = 0; i < n; ++i) acc += x[i];
  return acc;
}

double fma_loop(int64_t iters, float* sink) {
  float a = 0.f, b = 0.1f, c = 0.2f, d = 0.3f;
  for (int64_t it = 0; it < iters; ++it) {
    a = a * 0.999f + 1e-4f;
    b = b * 0.999f + 1e-4f;
    c = c * 0.999f + 1e-4f;
    d = d * 0.999f + 1e-4f;
  }
  *sink = a + b + c + d;
  return static_cast<double>(iters) * 8.0;
}

const KernelTable kTable = {"scalar",      gemm_bf16,  gemm_f32,       dot_bf16,   dot_f32,   axpy_bf16,
                            axpy_f32,      sum_squares, attn_scores16, attn_exp16, attn_pv16, attn_pv16_rows,
                            bf16_to_f32_row, stream_sum, fma_loop};

}  // namespace

const KernelTable& scalar_kernels() { return kTable; }

}  // namespace tandem
