// AVX-512 instance of the vectorized primitives. The whole file is compiled for AVX-512 via the
// target pragma; it is only called when the CPU reports the feature at run time.
#include "kernel_table.h"

#if defined(__x86_64__)
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")
#include <immintrin.h>

#include <cmath>

#include "bf16.h"
#include "kernels_simd.inl"

namespace tandem {
namespace {

struct Avx512 {
  using V = __m512;
  static constexpr int L = 16;
  // 4 x 6 accumulators + 4 x-vectors + 1 weight = 29 zmm registers; 4 rows tile the usual batch
  // sizes (8, 32, 512) exactly, where 6 would leave a 2-row tail running at a third of the speed.
  static constexpr int MR = 4;
  static constexpr int NR = 6;
  static constexpr int QB = 8;   // attention: 8 queries x 16 keys = 8 accumulators
  static constexpr int MRB = 4;  // streaming bf16 tile: 4 x 4 accumulators + 8 x-vectors + 2 weights
  static V zero() { return _mm512_setzero_ps(); }
  static V set1(float a) { return _mm512_set1_ps(a); }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static V load_bf16(const uint16_t* p) {
    __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
  }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  // Lanes >= n set to zero.
  static V keep_first(V v, int n) {
    if (n >= L) return v;
    if (n <= 0) return zero();
    return _mm512_maskz_mov_ps(static_cast<__mmask16>((1u << n) - 1), v);
  }
  // exp(x) for x <= 0 (attention only needs that range): 2^n * p(r), r = x - n ln2, degree-6
  // polynomial; about 2 ulp. Very negative x gives 0.
  static V exp(V x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-103.0f));
    const V n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT);
    V r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    V p = _mm512_set1_ps(1.0f / 720);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
  }
  // 2L bf16 values as L 32-bit words: even elements in the low halves, odd ones in the high halves.
  static void load_bf16_pairs(const uint16_t* p, V* even, V* odd) {
    __m512i w = _mm512_loadu_si512(p);
    *even = _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
    *odd = _mm512_castsi512_ps(_mm512_and_si512(w, _mm512_set1_epi32(static_cast<int>(0xffff0000u))));
  }
  static void prefetch_l2(const void* p) { _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T1); }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static float fma_scalar(float a, float b, float c) { return std::fmaf(a, b, c); }
  static float to_f32(float v) { return v; }
  static float to_f32(uint16_t v) { return bf16_to_f32(v); }
  static float reduce(V v) {
    // Fixed tree: 512 -> 256 -> 128 -> 64 -> 32.
    __m256 a = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
    __m128 b = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
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

const KernelTable& avx512_kernels() {
  // Built on first use, never during the library's static initialization: this file is compiled
  // for avx512, so even the table's construction may use those instructions, and a CPU without
  // them must never run it (it would die with SIGILL as soon as the addon loads).
  static const KernelTable table = simd::make_table<Avx512>("avx512");
  return table;
}

}  // namespace tandem
#pragma GCC pop_options
#else
namespace tandem {
const KernelTable& avx512_kernels() { return scalar_kernels(); }
}  // namespace tandem
#endif
