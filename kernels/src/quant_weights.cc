// Weight and activation quantizers (the format is described in quant.h) and the table dispatch.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "bf16.h"
#include "hadamard.inl"
#include "quant.h"
#include "thread_pool.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace tandem {
namespace {
// Round to nearest, ties to even (the default MXCSR mode): one cvtss2si on x86-64, where
// std::nearbyint would be a libm call per element without SSE4.1.
inline int round_even(float v) {
#if defined(__x86_64__)
  return _mm_cvtss_si32(_mm_set_ss(v));
#else
  return static_cast<int>(std::nearbyint(v));
#endif
}
}  // namespace

void quantize_act_row(const float* x, int K, int G, int Kp, int8_t* xq, float* xs, int32_t* xsum) {
  float amax = 0.f;
  for (int k = 0; k < K; ++k) amax = std::max(amax, std::fabs(x[k]));
  const float inv = amax > 0.f ? 127.0f / amax : 0.f;
  *xs = amax / 127.0f;
  // |x * inv| <= 127 up to one rounding, so the nearest integer is within [-127, 127].
  for (int k = 0; k < Kp; ++k) xq[k] = static_cast<int8_t>(k < K ? round_even(x[k] * inv) : 0);
  // Each group's sum (group_of: groups below a block are interleaved within it).
  std::fill(xsum, xsum + Kp / G, 0);
  for_each_group_element(Kp, G, [&](int g, int k) { xsum[g] += xq[k]; });
}

namespace {

// Round to nearest, ties to even, for |v| < 2^22 (the default rounding mode): plain float adds, so
// the loops below vectorize. Equal to round_even on that range.
inline float round_even_small(float v) {
  constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23: the sum's ulp is 1
  return (v + kMagic) - kMagic;
}

// The indices of group g's G elements (group_of), in ascending order.
inline void group_indices(int G, int g, int* idx) {
  if (G >= kQuantBlock) {
    for (int i = 0; i < G; ++i) idx[i] = g * G + i;
    return;
  }
  const int per_block = kQuantBlock / G, half = G / 2;
  const int b = g / per_block * kQuantBlock, j = g % per_block;
  for (int i = 0; i < half; ++i) {
    idx[i] = b + j * half + i;
    idx[half + i] = b + kQuantBlock / 2 + j * half + i;
  }
}

// Asymmetric wint4, group by group: codes u in [0, 15] with a zero point z. The group's range
// [lo, hi] (widened to include 0, so zeros and padding stay exact) is shrunk by each factor of
// kClipSearch; the factor whose dequantized group (u - z) * scale has the least squared error wins
// (the first on ties). tmp receives u - 8, so the nibble packing is the symmetric one.
// |w * inv| <= 15 / 0.7 here, so round_even_small is exact.
void quantize_groups_asym(const float* w, int G, int Kp, float* scales, uint8_t* zeros, int8_t* tmp) {
  thread_local std::vector<int> idx;
  thread_local std::vector<float> v;
  idx.resize(G);
  v.resize(G);
  for (int g = 0; g < Kp / G; ++g) {
    group_indices(G, g, idx.data());
    float lo = 0.f, hi = 0.f;
    for (int i = 0; i < G; ++i) {
      v[i] = w[idx[i]];
      lo = std::min(lo, v[i]);
      hi = std::max(hi, v[i]);
    }
    float best = -1.f, best_scale = 0.f, best_inv = 0.f, best_z = 0.f;
    for (const float f : kClipSearch) {
      const float scale = (f * hi - f * lo) / 15.0f;
      const float inv = scale != 0.f ? 1.0f / scale : 0.f;
      const float z = std::clamp(round_even_small(-f * lo * inv), 0.f, 15.f);
      // Eight partial sums in a fixed order: vectorizable, and the same bits every time.
      float part[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
      for (int i0 = 0; i0 < G; i0 += 8)
        for (int j = 0; j < 8; ++j) {
          const float u = std::min(std::max(round_even_small(v[i0 + j] * inv) + z, 0.f), 15.f);
          const float e = (u - z) * scale - v[i0 + j];
          part[j] += e * e;
        }
      const float err = ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
      if (best < 0.f || err < best) {
        best = err;
        best_scale = scale;
        best_inv = inv;
        best_z = z;
      }
    }
    scales[g] = best_scale;
    zeros[g] = static_cast<uint8_t>(best_z);
    for (int i = 0; i < G; ++i)
      tmp[idx[i]] = static_cast<int8_t>(std::clamp(round_even_small(v[i] * best_inv) + best_z, 0.f, 15.f) - 8.f);
  }
}

// One row (fp32, zero-padded to Kp): per group, the scale maps the largest magnitude onto the end
// of the integer range. wint4 uses the signed extreme (scale = extreme / -8) so both ends of
// [-8, 7] are reachable. Padding is zero, so it changes no scale and quantizes to 0. Groups are
// those of group_of (for G < 128 interleaved within each block).
void quantize_row(const float* w, int bits, int G, int Kp, uint8_t* q, float* scales, int8_t* tmp, uint8_t* zeros) {
  const int ng = Kp / G;
  if (zeros) {
    quantize_groups_asym(w, G, Kp, scales, zeros, tmp);
  } else {
    thread_local std::vector<float> amax, extreme, inv;  // per row of a load: kept per thread
    amax.assign(ng, 0.f);
    extreme.assign(ng, 0.f);
    inv.resize(ng);
    for_each_group_element(Kp, G, [&](int g, int k) {
      const float v = w[k];
      if (std::fabs(v) > amax[g]) {
        amax[g] = std::fabs(v);
        extreme[g] = v;
      }
    });
    for (int g = 0; g < ng; ++g) {
      scales[g] = bits == 8 ? amax[g] / 127.0f : extreme[g] / -8.0f;
      inv[g] = scales[g] != 0.f ? 1.0f / scales[g] : 0.f;
    }
    const int lo = bits == 8 ? -127 : -8, hi = bits == 8 ? 127 : 7;
    for_each_group_element(Kp, G, [&](int g, int k) { tmp[k] = static_cast<int8_t>(std::clamp(round_even(w[k] * inv[g]), lo, hi)); });
  }
  if (bits == 8) {
    for (int k = 0; k < Kp; ++k) q[k] = static_cast<uint8_t>(tmp[k] + 128);
    return;
  }
  for (int b = 0; b < Kp; b += kQuantBlock)
    for (int i = 0; i < kQuantBlock / 2; ++i)
      q[b / 2 + i] = static_cast<uint8_t>((tmp[b + i] + 8) | ((tmp[b + i + kQuantBlock / 2] + 8) << 4));
}

}  // namespace

void hadamard_rotate(float* x, int n) { hadamard_detail::rotate(x, n); }

void quantize_weights(const uint16_t* w, int rows, int cols, int bits, int group, uint8_t* q, float* scales, bool rotate,
                      uint8_t* zeros) {
  Linear shape;
  shape.bits = bits;
  shape.cols = cols;
  shape.group = group;
  const int Kp = shape.padded_cols(), ng = shape.groups();
  const int64_t rb = shape.row_bytes();
  pool().parallel_for(rows, [&](int64_t b, int64_t e, int) {
    std::vector<int8_t> tmp(Kp);
    std::vector<float> row(Kp);
    for (int64_t r = b; r < e; ++r) {
      const uint16_t* src = w + r * cols;
      for (int k = 0; k < Kp; ++k) row[k] = k < cols ? bf16_to_f32(load_u16(src + k)) : 0.f;
      if (rotate) hadamard_rotate(row.data(), Kp);
      quantize_row(row.data(), bits, group, Kp, q + r * rb, scales + r * ng, tmp.data(), bits == 4 && zeros ? zeros + r * ng : nullptr);
    }
  });
  if (uses_panels(bits, group, zeros != nullptr)) to_panels(rows, rb, ng, q, scales, zeros);
}

void to_panels(int rows, int64_t row_bytes, int groups, uint8_t* q, float* scales, uint8_t* zeros) {
  const int64_t words = row_bytes / 4;
  pool().parallel_for(rows / kPanel, [&](int64_t b, int64_t e, int) {
    std::vector<uint32_t> code(words * kPanel);
    std::vector<float> sc(static_cast<size_t>(groups) * kPanel);
    std::vector<uint8_t> zp(static_cast<size_t>(groups) * kPanel);
    for (int64_t p = b; p < e; ++p) {
      uint8_t* pq = q + p * kPanel * row_bytes;
      float* ps = scales + p * kPanel * groups;
      uint8_t* pz = zeros + p * kPanel * groups;
      for (int c = 0; c < kPanel; ++c) {
        for (int64_t w = 0; w < words; ++w) std::memcpy(&code[w * kPanel + c], pq + c * row_bytes + w * 4, 4);
        for (int g = 0; g < groups; ++g) {
          sc[static_cast<size_t>(g) * kPanel + c] = ps[c * groups + g];
          zp[static_cast<size_t>(g) * kPanel + c] = pz[c * groups + g];
        }
      }
      std::memcpy(pq, code.data(), kPanel * row_bytes);
      std::copy(sc.begin(), sc.end(), ps);
      std::copy(zp.begin(), zp.end(), pz);
    }
  });
}

bool cpu_has_avx512_vnni() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512vnni");
#else
  return false;
#endif
}

const QuantKernels& quant_kernels_for(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return quant_avx512_kernels();
    case Isa::Avx2: return quant_avx2_kernels();
    default: return quant_scalar_kernels();
  }
}

}  // namespace tandem
