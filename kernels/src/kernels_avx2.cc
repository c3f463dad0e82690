// AVX2 + FMA instance of the vectorized primitives (compiled for that target, called only when
// the CPU reports it).
#include "kernel_table.h"

#if defined(__x86_64__)
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
#include <immintrin.h>

#include <cmath>

#include "bf16.h"
#include "kernels_simd.inl"

namespace tandem {
namespace {

struct Avx2 {
  using V = __m256;
  static constexpr int L = 8;
  static constexpr int MR = 3;  // 3 x 4 accumulators + 3 x-vectors + 1 weight = 16 ymm registers
  static constexpr int NR = 4;
  static constexpr int QB = 4;   // attention: 4 queries x 16 keys = 8 accumulators
  static constexpr int MRB = 2;  // streaming bf16 tile: 2 x 4 accumulators + 4 x-vectors + 2 weights
  static V zero() { return _mm256_setzero_ps(); }
  static V set1(float a) { return _mm256_set1_ps(a); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static V load_bf16(const uint16_t* p) {
    __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
  }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  // Lanes >= n set to zero.
  static V keep_first(V v, int n) {
    if (n >= L) return v;
    if (n <= 0) return zero();
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_and_ps(v, _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(n), idx)));
  }
  // exp(x) for x <= 0: 2^n * p(r), r = x - n ln2, degree-6 polynomial; below -87 it returns 0.
  static V exp(V x) {
    const V tiny = _mm256_cmp_ps(x, _mm256_set1_ps(-87.0f), _CMP_LT_OQ);
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));
    const V n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    V r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    V p = _mm256_set1_ps(1.0f / 720);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_andnot_ps(tiny, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
  }
  // 2L bf16 values as L 32-bit words: even elements in the low halves, odd ones in the high halves.
  static void load_bf16_pairs(const uint16_t* p, V* even, V* odd) {
    __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    *even = _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
    *odd = _mm256_castsi256_ps(_mm256_and_si256(w, _mm256_set1_epi32(static_cast<int>(0xffff0000u))));
  }
  static void prefetch_l2(const void* p) { _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T1); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static float fma_scalar(float a, float b, float c) { return std::fmaf(a, b, c); }
  static float to_f32(float v) { return v; }
  static float to_f32(uint16_t v) { return bf16_to_f32(v); }
  static float reduce(V v) {
    __m128 b = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    b = _mm_add_ps(b, _mm_movehl_ps(b, b));
    b = _mm_add_ss(b, _mm_movehdup_ps(b));
    return _mm_cvtss_f32(b);
  }
  static void cvt_row(const uint16_t* in, float* out, int n) {
    int i = 0;
    for (; i + L <= n; i += L) store(out + i, load_bf16(in + i));
    for (; i < n; ++i) out[i] = bf16_to_f32(load_u16(in + i));
  }
};

}  // namespace

const KernelTable& avx2_kernels() {
  // Built on first use, never during the library's static initialization: this file is compiled
  // for avx2, so even the table's construction may use those instructions, and a CPU without
  // them must never run it (it would die with SIGILL as soon as the addon loads).
  static const KernelTable table = simd::make_table<Avx2>("avx2");
  return table;
}

}  // namespace tandem
#pragma GCC pop_options
#else
namespace tandem {
const KernelTable& avx2_kernels() { return scalar_kernels(); }
}  // namespace tandem
#endif
