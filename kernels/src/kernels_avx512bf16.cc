// bf16 weights x activations rounded to bf16, with AVX-512 BF16 dot products (vdpbf16ps: 32
// multiply-adds per instruction, twice the fp32 FMA rate, no widening of the weights). Opt-in
// (TANDEM_ISA=avx512bf16, ADR 0016): rounding activations to bf16 before each GEMM is a numerics
// change against the fp32-activation path, the same one llama.cpp makes for bf16 weights.
//
// Batch invariance holds as everywhere else: every output is one accumulator fed by the same
// sequence of dot products over K (32 at a time, a masked tail), reduced by the same tree,
// whatever the tile it sits in, M, or the thread that computes it.
#include "kernel_table.h"

#include <algorithm>
#include <cstring>

namespace tandem {

bool cpu_has_avx512_bf16() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bf16");
#else
  return false;
#endif
}

}  // namespace tandem

#if defined(__x86_64__)
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx2,fma")
#include <immintrin.h>

namespace tandem {
namespace {

constexpr int kStep = 32;  // bf16 elements per vdpbf16ps

inline float reduce16(__m512 v) {
  // The same fixed tree as the fp32 kernels: 512 -> 256 -> 128 -> 64 -> 32.
  __m256 a = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  __m128 b = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  b = _mm_add_ps(b, _mm_movehl_ps(b, b));
  b = _mm_add_ss(b, _mm_movehdup_ps(b));
  return _mm_cvtss_f32(b);
}

// One activation row rounded to bf16 (round to nearest even), zero-padded to Kp (a multiple of 32).
inline void round_row(const float* x, int K, int Kp, uint16_t* out) {
  int k = 0;
  for (; k + kStep <= K; k += kStep) {
    const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + k + 16), _mm512_loadu_ps(x + k));
    _mm512_storeu_si512(out + k, reinterpret_cast<const __m512i&>(v));
  }
  if (k < K) {
    const int n = K - k;
    const __mmask16 lo = n >= 16 ? 0xffff : static_cast<__mmask16>((1u << n) - 1);
    const __mmask16 hi = n > 16 ? static_cast<__mmask16>((1u << (n - 16)) - 1) : 0;
    const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(hi, x + k + 16), _mm512_maskz_loadu_ps(lo, x + k));
    _mm512_storeu_si512(out + k, reinterpret_cast<const __m512i&>(v));
    k += kStep;
  }
  for (; k < Kp; k += kStep) _mm512_storeu_si512(out + k, _mm512_setzero_si512());
}

// MR activation rows (bf16, stride Kp) x NR weight rows (bf16, stride ldw, K valid): y[m][r].
template <int MR, int NR>
inline void tile(const uint16_t* xs, int Kp, const uint16_t* W, int64_t ldw, int K, float* y, int ldy) {
  __m512 acc[MR][NR];
  for (int m = 0; m < MR; ++m)
    for (int r = 0; r < NR; ++r) acc[m][r] = _mm512_setzero_ps();
  const int Kf = K / kStep * kStep;
  for (int k = 0; k < Kf; k += kStep) {
    __m512bh x[MR];
    for (int m = 0; m < MR; ++m) x[m] = reinterpret_cast<__m512bh>(_mm512_loadu_si512(xs + static_cast<int64_t>(m) * Kp + k));
    for (int r = 0; r < NR; ++r) {
      const __m512bh w = reinterpret_cast<__m512bh>(_mm512_loadu_si512(W + r * ldw + k));
      for (int m = 0; m < MR; ++m) acc[m][r] = _mm512_dpbf16_ps(acc[m][r], x[m], w);
    }
  }
  if (Kf < K) {
    // The weights' tail is loaded masked (zeros past K); the activations are zero-padded already.
    const __mmask32 mask = static_cast<__mmask32>((1ull << (K - Kf)) - 1);
    __m512bh x[MR];
    for (int m = 0; m < MR; ++m) x[m] = reinterpret_cast<__m512bh>(_mm512_loadu_si512(xs + static_cast<int64_t>(m) * Kp + Kf));
    for (int r = 0; r < NR; ++r) {
      const __m512bh w = reinterpret_cast<__m512bh>(_mm512_maskz_loadu_epi16(mask, W + r * ldw + Kf));
      for (int m = 0; m < MR; ++m) acc[m][r] = _mm512_dpbf16_ps(acc[m][r], x[m], w);
    }
  }
  for (int m = 0; m < MR; ++m)
    for (int r = 0; r < NR; ++r) y[static_cast<int64_t>(m) * ldy + r] = reduce16(acc[m][r]);
}

template <int NR, int MRc = 4>
inline void tile_rows(int mr, const uint16_t* xs, int Kp, const uint16_t* W, int64_t ldw, int K, float* y, int ldy) {
  if constexpr (MRc >= 1) {
    if (mr == MRc) return tile<MRc, NR>(xs, Kp, W, ldw, K, y, ldy);
    tile_rows<NR, MRc - 1>(mr, xs, Kp, W, ldw, K, y, ldy);
  }
}

void gemm_bf16_dot(const float* x, int ldx, int M, int K, const uint16_t* W, int n0, int n1, float* y, int ldy,
                   float* scratch) {
  // The scratch (gemm_scratch_floats(K): 72 rows of Kp floats) holds 64 rows of Kp bf16 easily.
  constexpr int MB = 64, MR = 4, NR = 4;
  const int Kp = (K + kStep - 1) / kStep * kStep;
  uint16_t* xs = reinterpret_cast<uint16_t*>(scratch);
  for (int mb = 0; mb < M; mb += MB) {
    const int me = std::min(M, mb + MB);
    for (int m = mb; m < me; ++m) round_row(x + static_cast<int64_t>(m) * ldx, K, Kp, xs + static_cast<int64_t>(m - mb) * Kp);
    if (me - mb <= MR) {
      // Decode: one weight row at a time, a single sequential stream for the prefetchers.
      for (int n = n0; n < n1; ++n) tile_rows<1>(me - mb, xs, Kp, W + static_cast<int64_t>(n) * K, K, K, y + (n - n0) + static_cast<int64_t>(mb) * ldy, ldy);
      continue;
    }
    for (int n = n0; n < n1; n += NR) {
      const int nr = std::min(NR, n1 - n);
      const uint16_t* Wn = W + static_cast<int64_t>(n) * K;
      float* yn = y + (n - n0) + static_cast<int64_t>(mb) * ldy;
      for (int m = 0; m < me - mb; m += MR) {
        const int mr = std::min(MR, me - mb - m);
        const uint16_t* xm = xs + static_cast<int64_t>(m) * Kp;
        float* ym = yn + static_cast<int64_t>(m) * ldy;
        if (nr == NR) tile_rows<NR>(mr, xm, Kp, Wn, K, K, ym, ldy);
        else
          for (int r = 0; r < nr; ++r) tile_rows<1>(mr, xm, Kp, Wn + static_cast<int64_t>(r) * K, K, K, ym + r, ldy);
      }
    }
  }
}

// The peak of the instruction this table's GEMMs use: 12 independent vdpbf16ps chains (as the
// fp32 FMA probe), 32 multiply-adds = 64 FLOPs each. Benchmarks compare prefill against it.
double dp_loop(int64_t iters, float* sink) {
  constexpr int A = 12;
  __m512 acc[A];
  for (int a = 0; a < A; ++a) acc[a] = _mm512_set1_ps(static_cast<float>(a) * 1e-3f);
  const __m512bh x = _mm512_cvtne2ps_pbh(_mm512_set1_ps(0.999f), _mm512_set1_ps(1e-4f));
  for (int64_t it = 0; it < iters; ++it)
    for (int a = 0; a < A; ++a) acc[a] = _mm512_dpbf16_ps(acc[a], x, x);
  __m512 s = acc[0];
  for (int a = 1; a < A; ++a) s = _mm512_add_ps(s, acc[a]);
  *sink = reduce16(s);
  return static_cast<double>(iters) * A * 32 * 2.0;
}

}  // namespace

const KernelTable& avx512_bf16dot_kernels() {
  // Built on first use, and only when the CPU has AVX512_BF16 (see kernels_for / impl_arg).
  static const KernelTable table = [] {
    KernelTable t = avx512_kernels();
    t.name = "avx512bf16";
    t.gemm_bf16 = gemm_bf16_dot;
    t.fma_loop = dp_loop;
    return t;
  }();
  return table;
}

}  // namespace tandem
#pragma GCC pop_options
#else
namespace tandem {
const KernelTable& avx512_bf16dot_kernels() { return avx512_kernels(); }
}  // namespace tandem
#endif
