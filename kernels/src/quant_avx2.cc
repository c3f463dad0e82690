// AVX2 instance of the quantized kernels (no dot-product instruction): vpmaddubsw + vpmaddwd.
// wint8 uses the sign trick (|x| times w with x's sign) so no 16-bit pair sum can saturate:
// 2 * 127 * 127 < 32768. wint4 nibbles (0..15) are the unsigned operand as stored.
#include <cstring>

#include "quant.h"

#if defined(__x86_64__)
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#include <immintrin.h>

#include "quant_simd.inl"

namespace tandem {
namespace {

struct Avx2Q {
  using VI = __m256i;
  using VF = __m256;
  static constexpr int XV = 4;  // a 128-element block is four vectors
  // One activation row against four weight rows: 16 ymm registers hold no more.
  static constexpr int MR = 1, NR = 4;
  static constexpr int MR_STREAM = 1, NR_STREAM = 1;  // decode: one sequential weight stream (quant_avx512.cc)
  static constexpr int q8_offset = 0;  // wint8 weights are turned back into signed bytes
  static VF fzero() { return _mm256_setzero_ps(); }
  static VI lane0(int32_t v) { return _mm256_setr_epi32(v, 0, 0, 0, 0, 0, 0, 0); }
  static void load_x(const int8_t* p, VI* x, VI* ax) {
    for (int i = 0; i < 4; ++i) {
      x[i] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32 * i));
      ax[i] = _mm256_abs_epi8(x[i]);
    }
  }
  static void load_w8(const uint8_t* p, VI* w) {
    const VI flip = _mm256_set1_epi8(static_cast<char>(0x80));
    for (int i = 0; i < 4; ++i)
      w[i] = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32 * i)), flip);
  }
  // Bytes 0..31 hold elements 0..31 (low) and 64..95 (high); bytes 32..63 hold 32..63 and 96..127.
  static void load_w4(const uint8_t* p, VI* w) {
    const VI b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    const VI b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32));
    const VI nib = _mm256_set1_epi8(0x0F);
    w[0] = _mm256_and_si256(b0, nib);
    w[1] = _mm256_and_si256(b1, nib);
    w[2] = _mm256_and_si256(_mm256_srli_epi16(b0, 4), nib);
    w[3] = _mm256_and_si256(_mm256_srli_epi16(b1, 4), nib);
  }
  static VI mac8(VI acc, const VI* w, const VI* x, const VI* ax) {
    const VI ones = _mm256_set1_epi16(1);
    for (int i = 0; i < 4; ++i)
      acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(ax[i], _mm256_sign_epi8(w[i], x[i])), ones));
    return acc;
  }
  static VI mac4(VI acc, const VI* w, const VI* x) {
    // |pair sums| <= 2 * 15 * 127, so four of them add in 16 bits before widening (< 32768);
    // with zero points (codes up to 30) 4 * 2 * 30 * 127 = 30480, still below.
    const VI p01 = _mm256_add_epi16(_mm256_maddubs_epi16(w[0], x[0]), _mm256_maddubs_epi16(w[1], x[1]));
    const VI p23 = _mm256_add_epi16(_mm256_maddubs_epi16(w[2], x[2]), _mm256_maddubs_epi16(w[3], x[3]));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_add_epi16(p01, p23), _mm256_set1_epi16(1)));
  }
  // wint4 groups below a block (quant_simd.inl tile_sub): after vpmaddubsw + vpmaddwd, lane l of
  // a vector sums its bytes 4l..4l+3. Code bytes 0..31 are w[0] (low nibbles) and w[2] (high),
  // bytes 32..63 w[1] and w[3]: each pair is summed on its own, so for groups of 32 lanes 0-3 /
  // 4-7 of the first pair are groups 0 / 1 and of the second 2 / 3; for 64 each pair is a group.
  // |pair sums| <= 2 * 15 * 127, two of them add in 16 bits (< 32768).
  template <int GPB> struct SubInit { VI i02, i13; };
  template <int GPB> struct SubScales { VF s02, s13; };
  template <int GPB, int OFF> static SubInit<GPB> sub_init(const int32_t* xsum) {
    if constexpr (GPB == 4)
      return {_mm256_setr_epi32(-OFF * xsum[0], 0, 0, 0, -OFF * xsum[1], 0, 0, 0), _mm256_setr_epi32(-OFF * xsum[2], 0, 0, 0, -OFF * xsum[3], 0, 0, 0)};
    else
      return {lane0(-OFF * xsum[0]), lane0(-OFF * xsum[1])};
  }
  // Zero points: 15 - z of each group added to its code bytes (u + 15 - z in [0, 30]; pair sums
  // then reach 2 * 30 * 127 and two of them 15240, still within 16 bits).
  template <int GPB> static void sub_zero(VI* w, const uint8_t* z) {
    // The group bytes broadcast by one vpshufb per pair (it indexes within each 128-bit lane).
    int32_t zz = 0;
    std::memcpy(&zz, z, GPB);
    const VI all = _mm256_sub_epi8(_mm256_set1_epi8(15), _mm256_set1_epi32(zz));
    const VI i02 = GPB == 4 ? _mm256_setr_epi32(0, 0, 0, 0, 0x01010101, 0x01010101, 0x01010101, 0x01010101) : _mm256_setzero_si256();
    const VI i13 = GPB == 4 ? _mm256_setr_epi32(0x02020202, 0x02020202, 0x02020202, 0x02020202, 0x03030303, 0x03030303, 0x03030303, 0x03030303)
                            : _mm256_set1_epi8(1);
    const VI z02 = _mm256_shuffle_epi8(all, i02), z13 = _mm256_shuffle_epi8(all, i13);
    w[0] = _mm256_add_epi8(w[0], z02);
    w[2] = _mm256_add_epi8(w[2], z02);
    w[1] = _mm256_add_epi8(w[1], z13);
    w[3] = _mm256_add_epi8(w[3], z13);
  }
  static VI set1_u8(int v) { return _mm256_set1_epi8(static_cast<char>(v)); }
  static VI add_u8(VI a, VI b) { return _mm256_add_epi8(a, b); }
  template <int GPB> static SubScales<GPB> sub_scales(const float* s) {
    if constexpr (GPB == 4) {
      const VF v = _mm256_castps128_ps256(_mm_loadu_ps(s));
      return {_mm256_permutevar8x32_ps(v, _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1)), _mm256_permutevar8x32_ps(v, _mm256_setr_epi32(2, 2, 2, 2, 3, 3, 3, 3))};
    } else {
      return {_mm256_set1_ps(s[0]), _mm256_set1_ps(s[1])};
    }
  }
  template <int GPB>
  static VF sub_mac(VF acc, const SubInit<GPB>& init, const VI* w, const VI* x, const SubScales<GPB>& s) {
    const VI ones = _mm256_set1_epi16(1);
    const VI p02 = _mm256_add_epi16(_mm256_maddubs_epi16(w[0], x[0]), _mm256_maddubs_epi16(w[2], x[2]));
    const VI p13 = _mm256_add_epi16(_mm256_maddubs_epi16(w[1], x[1]), _mm256_maddubs_epi16(w[3], x[3]));
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(init.i02, _mm256_madd_epi16(p02, ones))), s.s02, acc);
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(init.i13, _mm256_madd_epi16(p13, ones))), s.s13, acc);
  }
  static VF fma_i32(VI a, float s, VF acc) { return _mm256_fmadd_ps(_mm256_cvtepi32_ps(a), _mm256_set1_ps(s), acc); }

  // Panels (quant.h uses_panels): a panel's 16 rows are two 8-lane halves. Per group of 32, the
  // eight vpmaddubsw products of a half (pair sums |u * x| <= 2 * 15 * 127) add in 16 bits
  // (8 * 3810 < 32768), then one vpmaddwd widens them onto -z * sum(xq); then one convert and one
  // multiply-add by the half's scales.
  static constexpr int PMR = 4, PNR = 1;  // 2 and 6 rows measured 0.95 and 0.89 of the old layout's time, 4 0.86
  static constexpr int PMR_STREAM = 1, PNR_STREAM = 1;  // decode: one panel at a time
  template <int MR, int NR>
  static void panel_tile(const QuantActs& a, int m0, const Linear& W, int p0, float* y, int ldy) {
    const int ng = a.groups;
    const VI nib = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
    for (int r = 0; r < NR; ++r) {
      const PanelView pv = panel_view(W, p0 + r);
      for (int h = 0; h < 2; ++h) {
        VF acc[MR];
        for (int m = 0; m < MR; ++m) acc[m] = _mm256_setzero_ps();
        for (int g = 0; g < ng; ++g) {
          const int kb = group32_start(g);
          VI p16[MR];
          for (int m = 0; m < MR; ++m) p16[m] = _mm256_setzero_si256();
          for (int v = 0; v < 4; ++v) {
            const VI raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(pv.q + static_cast<int64_t>(g) * kPanelGroupBytes + v * 64 + h * 32));
            const VI lo = _mm256_and_si256(raw, nib), hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), nib);
            for (int m = 0; m < MR; ++m) {
              const int8_t* x = a.q + static_cast<int64_t>(m0 + m) * a.kp + kb + 4 * v;
              int32_t l, hh;
              std::memcpy(&l, x, 4);
              std::memcpy(&hh, x + 64, 4);
              p16[m] = _mm256_add_epi16(p16[m], _mm256_add_epi16(_mm256_maddubs_epi16(lo, _mm256_set1_epi32(l)),
                                                                 _mm256_maddubs_epi16(hi, _mm256_set1_epi32(hh))));
            }
          }
          const VI zn = _mm256_sub_epi32(_mm256_setzero_si256(),
                                         _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(pv.z + g * kPanel + h * 8))));
          const VF s = _mm256_loadu_ps(pv.s + g * kPanel + h * 8);
          for (int m = 0; m < MR; ++m) {
            const int32_t xsum = a.sum[static_cast<int64_t>(m0 + m) * ng + g];
            const VI isum = _mm256_add_epi32(_mm256_madd_epi16(zn, _mm256_set1_epi32(xsum & 0xFFFF)), _mm256_madd_epi16(p16[m], ones));
            acc[m] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), s, acc[m]);
          }
        }
        for (int m = 0; m < MR; ++m)
          _mm256_storeu_ps(y + static_cast<int64_t>(m) * ldy + r * kPanel + h * 8, _mm256_mul_ps(acc[m], _mm256_set1_ps(a.s[m0 + m])));
      }
    }
  }
  static float reduce(VF v) {
    __m128 b = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    b = _mm_add_ps(b, _mm_movehl_ps(b, b));
    b = _mm_add_ss(b, _mm_movehdup_ps(b));
    return _mm_cvtss_f32(b);
  }
  static double mac_loop(int64_t iters, int32_t* sink) {
    // Each chain feeds its accumulator back in as the signed bytes, so nothing can be hoisted.
    constexpr int A = 14;
    VI acc[A];
    for (int i = 0; i < A; ++i) acc[i] = _mm256_set1_epi32(i);
    const VI u = _mm256_set1_epi8(3), ones = _mm256_set1_epi16(1);
    for (int64_t it = 0; it < iters; ++it)
      for (int i = 0; i < A; ++i) acc[i] = _mm256_add_epi32(acc[i], _mm256_madd_epi16(_mm256_maddubs_epi16(u, acc[i]), ones));
    VI t = acc[0];
    for (int i = 1; i < A; ++i) t = _mm256_add_epi32(t, acc[i]);
    alignas(32) int32_t lanes[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), t);
    *sink = lanes[0] + lanes[7];
    return static_cast<double>(iters) * A * 32;
  }
};

// quantize_act_row 8 elements at a time with the same bits (as quant_avx512.cc's): exact maximum,
// the same multiply, vcvtps2dq rounding as cvtss2si, a truncating pack (vpshufb + vpermd, as the
// scalar cast), integer group sums of the stored bytes (8 consecutive elements lie in one group).
void quantize_act_row_avx2(const float* x, int K, int G, int Kp, int8_t* xq, float* xs, int32_t* xsum) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const auto mask_at = [&](int k) { return _mm256_cmpgt_epi32(_mm256_set1_epi32(K - k), lane); };
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
  __m256 m = _mm256_setzero_ps();
  for (int k = 0; k < K; k += 8) m = _mm256_max_ps(_mm256_and_ps(_mm256_maskload_ps(x + k, mask_at(k)), abs_mask), m);
  __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
  h = _mm_max_ps(h, _mm_movehl_ps(h, h));
  h = _mm_max_ss(h, _mm_movehdup_ps(h));
  const float amax = _mm_cvtss_f32(h);
  const float inv = amax > 0.f ? 127.0f / amax : 0.f;
  *xs = amax / 127.0f;
  std::memset(xsum, 0, sizeof(int32_t) * (Kp / G));
  const __m256 vinv = _mm256_set1_ps(inv);
  // Byte 0 of each int32 to the low 4 bytes of its 128-bit lane, then the two lanes' words together.
  const __m256i pick = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1,
                                        -1, -1, -1, -1);
  const __m256i join = _mm256_setr_epi32(0, 4, 1, 1, 1, 1, 1, 1);
  for (int k = 0; k < Kp; k += 8) {
    const __m256 v = k < K ? _mm256_maskload_ps(x + k, mask_at(k)) : _mm256_setzero_ps();
    const __m256i r = _mm256_cvtps_epi32(_mm256_mul_ps(v, vinv));
    const __m128i b = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(r, pick), join));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(xq + k), b);
    const __m256i w = _mm256_cvtepi8_epi32(b);
    __m128i t = _mm_add_epi32(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
    t = _mm_add_epi32(t, _mm_unpackhi_epi64(t, t));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 1));
    xsum[group_of(k, G)] += _mm_cvtsi128_si32(t);
  }
}

}  // namespace

const QuantKernels& quant_avx2_kernels() {
  static const QuantKernels table = [] {
    QuantKernels t = qsimd::make_quant_table<Avx2Q>("avx2");
    t.quantize_row = quantize_act_row_avx2;
    return t;
  }();
  return table;
}

}  // namespace tandem
#pragma GCC pop_options
#else
namespace tandem {
const QuantKernels& quant_avx2_kernels() { return quant_scalar_kernels(); }
}  // namespace tandem
#endif
