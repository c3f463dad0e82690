// AVX-512 VNNI instance of the quantized kernels: vpdpbusd multiplies 64 unsigned weight bytes by
// 64 signed activation bytes into 16 int32 lanes. Weights are stored offset (q + 128, q + 8), so
// they are the unsigned operand as they are; each group subtracts offset * sum(xq) once.
// Compiled for AVX-512 VNNI via the target pragma; only called when the CPU reports the feature.
#include <cstring>

#include "quant.h"

#if defined(__x86_64__)
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma")
#include <immintrin.h>

#include "quant_simd.inl"

namespace tandem {
namespace {

struct Vnni512 {
  using VI = __m512i;
  using VF = __m512;
  static constexpr int XV = 2;          // a 128-element block is two vectors
  // 16 int32 accumulators + 8 activation + 2 weight vectors; the 16 fp32 accumulators, touched
  // once per group, live in L1 (measured: 4x4 runs 1.5x faster than 4x2 with everything in registers).
  static constexpr int MR = 4, NR = 4;
  // Decode (one or two token rows): one weight row at a time, so the weights are one sequential
  // stream; four interleaved rows of 1 KB (the int8 head's) read DRAM at 15 GB/s instead of 33-41.
  static constexpr int MR_STREAM = 2, NR_STREAM = 1;
  static constexpr int q8_offset = 128;
  static VF fzero() { return _mm512_setzero_ps(); }
  static VI lane0(int32_t v) { return _mm512_maskz_set1_epi32(1, v); }
  static void load_x(const int8_t* p, VI* x, VI* /*ax*/) {
    x[0] = _mm512_loadu_si512(p);
    x[1] = _mm512_loadu_si512(p + 64);
  }
  static void load_w8(const uint8_t* p, VI* w) {
    w[0] = _mm512_loadu_si512(p);
    w[1] = _mm512_loadu_si512(p + 64);
  }
  // 64 bytes: low nibbles are elements 0..63, high nibbles 64..127.
  static void load_w4(const uint8_t* p, VI* w) {
    const VI b = _mm512_loadu_si512(p);
    const VI nib = _mm512_set1_epi8(0x0F);
    w[0] = _mm512_and_si512(b, nib);
    w[1] = _mm512_and_si512(_mm512_srli_epi16(b, 4), nib);
  }
  static VI mac8(VI acc, const VI* w, const VI* x, const VI* /*ax*/) {
    return _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(acc, w[0], x[0]), w[1], x[1]);
  }
  static VI mac4(VI acc, const VI* w, const VI* x) { return mac8(acc, w, x, nullptr); }
  // wint4 groups below a block (quant_simd.inl tile_sub): lane l sums code bytes 4l..4l+3 of both
  // nibble vectors, so lanes 4j..4j+3 are group j of 32, lanes 8j..8j+7 group j of 64.
  template <int GPB> struct SubInit { VI v; };
  template <int GPB> struct SubScales { VF v; };
  template <int GPB, int OFF> static SubInit<GPB> sub_init(const int32_t* xsum) {
    // -OFF * sum(xq) of each group into the group's first lane (OFF 8, or 15 with zero points).
    static_assert(OFF == 8 || OFF == 15);
    const VI s = _mm512_maskz_expandloadu_epi32(GPB == 4 ? 0x1111 : 0x0101, xsum);
    if constexpr (OFF == 8) return {_mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(s, 3))};
    else return {_mm512_sub_epi32(s, _mm512_slli_epi32(s, 4))};
  }
  // Zero points: adds 15 - z of each group to its code bytes (both nibble vectors): group j's bytes
  // are the 128-bit lane j (groups of 32) or lanes 2j, 2j + 1 (64).
  template <int GPB> static void sub_zero(VI* w, const uint8_t* z) {
    int32_t zz = 0;
    std::memcpy(&zz, z, GPB);
    const VI idx = GPB == 4 ? _mm512_setr_epi32(0, 0, 0, 0, 0x01010101, 0x01010101, 0x01010101, 0x01010101, 0x02020202, 0x02020202,
                                                0x02020202, 0x02020202, 0x03030303, 0x03030303, 0x03030303, 0x03030303)
                            : _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 0x01010101, 0x01010101, 0x01010101, 0x01010101, 0x01010101,
                                                0x01010101, 0x01010101, 0x01010101);
    const VI zb = _mm512_shuffle_epi8(_mm512_sub_epi8(_mm512_set1_epi8(15), _mm512_set1_epi32(zz)), idx);
    w[0] = _mm512_add_epi8(w[0], zb);
    w[1] = _mm512_add_epi8(w[1], zb);
  }
  static VI set1_u8(int v) { return _mm512_set1_epi8(static_cast<char>(v)); }
  static VI add_u8(VI a, VI b) { return _mm512_add_epi8(a, b); }
  template <int GPB> static SubScales<GPB> sub_scales(const float* s) {
    const VI idx = GPB == 4 ? _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3)
                            : _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    const __m128 v = GPB == 4 ? _mm_loadu_ps(s) : _mm_castpd_ps(_mm_load_sd(reinterpret_cast<const double*>(s)));
    return {_mm512_permutexvar_ps(idx, _mm512_castps128_ps512(v))};
  }
  template <int GPB>
  static VF sub_mac(VF acc, const SubInit<GPB>& init, const VI* w, const VI* x, const SubScales<GPB>& s) {
    const VI ai = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(init.v, w[0], x[0]), w[1], x[1]);
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(ai), s.v, acc);
  }
  static VF fma_i32(VI a, float s, VF acc) { return _mm512_fmadd_ps(_mm512_cvtepi32_ps(a), _mm512_set1_ps(s), acc); }

  // Panels (quant.h uses_panels): one lane per output row of a panel, 4 activation bytes
  // broadcast per vpdpbusd. Per group of 32 and row of activations: a vpmaddwd starts each
  // panel's lanes at -z * sum(xq), eight vpdpbusd add the codes times xq, one convert and one
  // multiply-add by the panel's 16 scales; the code unpacking is shared by the MR rows.
  static constexpr int PMR = 6, PNR = 2;
  static constexpr int PMR_STREAM = 2, PNR_STREAM = 1;  // decode: one panel at a time (as NR_STREAM)
  template <int MR, int NR>
  static void panel_tile(const QuantActs& a, int m0, const Linear& W, int p0, float* y, int ldy) {
    const int ng = a.groups;
    PanelView pv[NR];
    for (int r = 0; r < NR; ++r) pv[r] = panel_view(W, p0 + r);
    const int8_t* xr[MR];
    const int32_t* xsum[MR];
    for (int m = 0; m < MR; ++m) {
      xr[m] = a.q + static_cast<int64_t>(m0 + m) * a.kp;
      xsum[m] = a.sum + static_cast<int64_t>(m0 + m) * ng;
    }
    const VI nib = _mm512_set1_epi8(0x0F);
    VF acc[MR][NR];
    for (int m = 0; m < MR; ++m)
      for (int r = 0; r < NR; ++r) acc[m][r] = _mm512_setzero_ps();
    for (int g = 0; g < ng; ++g) {
      const int kb = group32_start(g);
      VI ai[MR][NR];
      for (int r = 0; r < NR; ++r) {
        // -z in each lane's low 16 bits (the high 16 bits, -1, meet the 0 above the sum).
        const VI zn = _mm512_sub_epi32(_mm512_setzero_si512(),
                                       _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(pv[r].z + g * kPanel))));
        for (int m = 0; m < MR; ++m) ai[m][r] = _mm512_madd_epi16(zn, _mm512_set1_epi32(xsum[m][g] & 0xFFFF));
      }
      for (int v = 0; v < 4; ++v) {
        VI lo[NR], hi[NR];
        for (int r = 0; r < NR; ++r) {
          const VI raw = _mm512_loadu_si512(pv[r].q + static_cast<int64_t>(g) * kPanelGroupBytes + v * 64);
          lo[r] = _mm512_and_si512(raw, nib);
          hi[r] = _mm512_and_si512(_mm512_srli_epi16(raw, 4), nib);
        }
        for (int m = 0; m < MR; ++m) {
          int32_t l, h;
          std::memcpy(&l, xr[m] + kb + 4 * v, 4);
          std::memcpy(&h, xr[m] + kb + 64 + 4 * v, 4);
          const VI xl = _mm512_set1_epi32(l), xh = _mm512_set1_epi32(h);
          for (int r = 0; r < NR; ++r) ai[m][r] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(ai[m][r], lo[r], xl), hi[r], xh);
        }
      }
      for (int r = 0; r < NR; ++r) {
        const VF s = _mm512_loadu_ps(pv[r].s + g * kPanel);
        for (int m = 0; m < MR; ++m) acc[m][r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ai[m][r]), s, acc[m][r]);
      }
    }
    for (int m = 0; m < MR; ++m) {
      const VF xs = _mm512_set1_ps(a.s[m0 + m]);
      for (int r = 0; r < NR; ++r) _mm512_storeu_ps(y + static_cast<int64_t>(m) * ldy + r * kPanel, _mm512_mul_ps(acc[m][r], xs));
    }
  }
  static float reduce(VF v) {
    // Fixed tree: 512 -> 256 -> 128 -> 64 -> 32.
    __m256 a = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
    __m128 b = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    b = _mm_add_ps(b, _mm_movehl_ps(b, b));
    b = _mm_add_ss(b, _mm_movehdup_ps(b));
    return _mm_cvtss_f32(b);
  }
  static double mac_loop(int64_t iters, int32_t* sink) {
    constexpr int A = 12;  // independent chains cover vpdpbusd's latency (16 and 24 measured no faster)
    VI acc[A];
    for (int i = 0; i < A; ++i) acc[i] = _mm512_set1_epi32(i);
    const VI u = _mm512_set1_epi8(3), s = _mm512_set1_epi8(-2);
    for (int64_t it = 0; it < iters; ++it)
      for (int i = 0; i < A; ++i) acc[i] = _mm512_dpbusd_epi32(acc[i], u, s);
    VI t = acc[0];
    for (int i = 1; i < A; ++i) t = _mm512_add_epi32(t, acc[i]);
    *sink = _mm512_reduce_add_epi32(t);
    return static_cast<double>(iters) * A * 64;
  }
};

// quantize_act_row, 16 elements per instruction with the same bits: the maximum is exact, the
// product is the same IEEE multiply, vcvtps2dq rounds as cvtss2si does (MXCSR: to nearest even),
// vpmovdb truncates as the scalar cast does, and the group sums are integer sums of those bytes
// (16 consecutive elements always lie in one group: G / 2 >= 16).
void quantize_act_row_avx512(const float* x, int K, int G, int Kp, int8_t* xq, float* xs, int32_t* xsum) {
  const auto mask_at = [K](int k) -> __mmask16 { return K - k >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << (K - k)) - 1); };
  __m512 m = _mm512_setzero_ps();
  const __m512 abs_mask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7FFFFFFF));
  for (int k = 0; k < K; k += 16) m = _mm512_max_ps(_mm512_and_ps(_mm512_maskz_loadu_ps(mask_at(k), x + k), abs_mask), m);
  const float amax = _mm512_reduce_max_ps(m);
  const float inv = amax > 0.f ? 127.0f / amax : 0.f;
  *xs = amax / 127.0f;
  std::memset(xsum, 0, sizeof(int32_t) * (Kp / G));
  const __m512 vinv = _mm512_set1_ps(inv);
  for (int k = 0; k < Kp; k += 16) {
    const __m512 v = k < K ? _mm512_maskz_loadu_ps(mask_at(k), x + k) : _mm512_setzero_ps();
    const __m128i b = _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(v, vinv)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(xq + k), b);
    xsum[group_of(k, G)] += _mm512_reduce_add_epi32(_mm512_cvtepi8_epi32(b));
  }
}

}  // namespace

const QuantKernels& quant_avx512_kernels() {
  // Built on first use (never at load time: the table is compiled for AVX-512 VNNI).
  if (!cpu_has_avx512_vnni()) return quant_avx2_kernels();
  static const QuantKernels table = [] {
    QuantKernels t = qsimd::make_quant_table<Vnni512>("avx512vnni");
    t.quantize_row = quantize_act_row_avx512;
    return t;
  }();
  return table;
}

}  // namespace tandem
#pragma GCC pop_options
#else
namespace tandem {
const QuantKernels& quant_avx512_kernels() { return quant_scalar_kernels(); }
}  // namespace tandem
#endif
