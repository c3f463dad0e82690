// The primitive kernels that carry every reduction in the model. Each instruction set provides the
// same signatures; the scalar table is the reference the optimized ones are tested against.
//
// Batch invariance: every primitive computes one output from one row (or one vector pair) with a
// reduction order fixed by the ISA alone, never by how many rows are processed together, where a
// row sits in its tile, or how work is split across threads. Higher-level ops (ops.cc) are written
// once on top of these, so that property carries over to the whole forward pass.
#pragma once
#include <cstdint>

#include "cpu_features.h"

namespace tandem {

struct KernelTable {
  const char* name;
  // y[m*ldy + (n - n0)] = sum_k x[m*ldx + k] * W[n*K + k] for m < M, n0 <= n < n1.
  // W is bf16, row-major [N, K]. `scratch` holds at least gemm_scratch_floats(K) floats.
  void (*gemm_bf16)(const float* x, int ldx, int M, int K, const uint16_t* W, int n0, int n1, float* y,
                    int ldy, float* scratch);
  // The same with fp32 weights (the MoE router runs in fp32).
  void (*gemm_f32)(const float* x, int ldx, int M, int K, const float* W, int n0, int n1, float* y, int ldy);
  float (*dot_bf16)(const float* a, const uint16_t* b, int n);
  float (*dot_f32)(const float* a, const float* b, int n);
  // out[i] += a * v[i]
  void (*axpy_bf16)(float a, const uint16_t* v, float* out, int n);
  void (*axpy_f32)(float a, const float* v, float* out, int n);
  float (*sum_squares)(const float* x, int n);
  // Attention over a tile of 16 key positions (the unit every query walks its context in):
  //  scores: s[i*16 + j] = scale * sum_d q[i][d] * kt[d*16 + j] for nq queries, d in sequential order
  //          (kt is the key tile transposed to [head_dim][16], fp32);
  //  exp:    p[j] = exp(s[j] - m) for j < n, 0 for n <= j < 16; returns the sum of the 16 values;
  //  pv:     out[d] = out[d] * scale + sum_{j<n} p[j] * v[j*hd + d], j in sequential order.
  // Each query's numbers depend on that query alone, never on nq or on which queries share a call.
  void (*attn_scores16)(const float* const* q, int nq, const float* kt, int hd, float scale, float* s);
  float (*attn_exp16)(float* s, int n, float m);
  void (*attn_pv16)(const float* p, int n, const float* v, int hd, float scale, float* out);
  //  pv rows: attn_pv16 for nq queries at once, query i with p + 16 i, scales[i] and outs[i], all with
  //          the same n (the GQA heads of one token): each V row is loaded once for them all.
  void (*attn_pv16_rows)(const float* p, int nq, int n, const float* v, int hd, const float* scales, float* const* outs);
  // out[i] = bf16 -> fp32 (exact, so every ISA agrees bit for bit)
  void (*bf16_to_f32_row)(const uint16_t* in, float* out, int n);
  // Benchmark probes, in the same ISA as the kernels: a streaming read (returns a checksum so the
  // loads are not optimized away) and an FMA loop (returns the FLOPs it performed; in the
  // bf16-dot table a vdpbf16ps loop, the instruction its GEMMs run on).
  float (*stream_sum)(const float* x, int64_t n);
  double (*fma_loop)(int64_t iters, float* sink);
};

int gemm_scratch_floats(int K);

const KernelTable& scalar_kernels();
const KernelTable& avx2_kernels();
const KernelTable& avx512_kernels();
// AVX-512 with bf16 dot products for bf16 weights (activations rounded to bf16); only on CPUs
// with AVX512_BF16, only when asked for (TANDEM_ISA=avx512bf16).
const KernelTable& avx512_bf16dot_kernels();
bool cpu_has_avx512_bf16();
// TANDEM_ISA=avx512bf16 on a CPU that has it: kernels_for(Isa::Avx512) is then the bf16-dot table.
bool bf16_dot_active();
const KernelTable& kernels_for(Isa isa);
// The table chosen at start-up (best ISA of this CPU, lowered by TANDEM_ISA).
const KernelTable& active_kernels();
Isa active_isa();

}  // namespace tandem
