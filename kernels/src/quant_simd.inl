// Integer dot-product kernels for wint8 / wint4 weights, written once over an ISA traits type `Q`
// (see quant_avx2.cc and quant_avx512.cc, which set the target ISA and include this file).
//
// A 128-element block is the unit: Q loads it as XV vectors of activations and of weights and
// multiply-accumulates into int32 lanes. Each group's int32 lanes are exact; they are turned into
// fp32 once per group (times the weight scale) and accumulated lane by lane, then reduced by a
// fixed tree and multiplied by the row's activation scale.
// Tile shapes (MR x NR) only change which loads are shared, never an element's arithmetic.
#include <algorithm>
#include <cstdint>

#include "hadamard.inl"
#include "quant.h"

namespace tandem {
namespace qsimd {

// Rows in blocks small enough that their activations stay in L1 (32 KiB) while every weight
// row (or panel) streams past them: each activation byte is then read from L1, never again from L2.
inline int activation_block_rows(int MR, int kp) { return std::max(MR, std::min(64, (32 << 10) / kp) / MR * MR); }

// ZP: asymmetric wint4 (Linear::zeros): each weight row's nibbles get 15 - z added (bytewise, in
// [0, 30]), so (u + 15 - z) - 15 = u - z and the group's offset is 15 instead of 8.
template <class Q, int BITS, int MR, int NR, bool ZP = false>
inline void tile(const QuantActs& a, int m0, const Linear& W, int n, float* y, int ldy) {
  using VI = typename Q::VI;
  using VF = typename Q::VF;
  constexpr int XV = Q::XV;
  // Kernels that feed the weights as the unsigned operand subtract offset * sum(x) per group.
  constexpr int offset = BITS == 8 ? Q::q8_offset : ZP ? 15 : 8;
  const int G = W.group, ng = a.groups;
  const int64_t rb = W.row_bytes();
  const uint8_t* wrow[NR];
  const float* wsc[NR];
  for (int r = 0; r < NR; ++r) {
    wrow[r] = W.q + static_cast<int64_t>(n + r) * rb;
    wsc[r] = W.scales + static_cast<int64_t>(n + r) * ng;
  }
  const int8_t* xrow[MR];
  const int32_t* xsum[MR];
  for (int m = 0; m < MR; ++m) {
    xrow[m] = a.q + static_cast<int64_t>(m0 + m) * a.kp;
    xsum[m] = a.sum + static_cast<int64_t>(m0 + m) * ng;
  }
  VF af[MR][NR];
  for (int m = 0; m < MR; ++m)
    for (int r = 0; r < NR; ++r) af[m][r] = Q::fzero();
  for (int g = 0; g < ng; ++g) {
    VI ai[MR][NR];
    for (int m = 0; m < MR; ++m) {
      const VI init = Q::lane0(offset ? -offset * xsum[m][g] : 0);
      for (int r = 0; r < NR; ++r) ai[m][r] = init;
    }
    [[maybe_unused]] VI zb[NR];
    if constexpr (ZP)
      for (int r = 0; r < NR; ++r) zb[r] = Q::set1_u8(15 - W.zeros[static_cast<int64_t>(n + r) * ng + g]);
    for (int kb = g * G; kb < (g + 1) * G; kb += kQuantBlock) {
      VI x[MR][XV], ax[MR][XV];
      for (int m = 0; m < MR; ++m) Q::load_x(xrow[m] + kb, x[m], ax[m]);
      for (int r = 0; r < NR; ++r) {
        VI w[XV];
        if constexpr (BITS == 8) {
          Q::load_w8(wrow[r] + kb, w);
          for (int m = 0; m < MR; ++m) ai[m][r] = Q::mac8(ai[m][r], w, x[m], ax[m]);
        } else {
          Q::load_w4(wrow[r] + kb / 2, w);
          if constexpr (ZP)
            for (int i = 0; i < XV; ++i) w[i] = Q::add_u8(w[i], zb[r]);
          for (int m = 0; m < MR; ++m) ai[m][r] = Q::mac4(ai[m][r], w, x[m]);
        }
      }
    }
    for (int m = 0; m < MR; ++m)
      for (int r = 0; r < NR; ++r) af[m][r] = Q::fma_i32(ai[m][r], wsc[r][g], af[m][r]);
  }
  for (int m = 0; m < MR; ++m)
    for (int r = 0; r < NR; ++r) y[static_cast<int64_t>(m) * ldy + r] = Q::reduce(af[m][r]) * a.s[m0 + m];
}

// wint4 with groups below a block (GPB = 128 / G groups per block: 2 for G = 64, 4 for G = 32).
// The format puts a block's group j in its code bytes [j * G/2, (j + 1) * G/2) (both nibbles), and
// every ISA's int32 lanes each sum 4 consecutive code bytes of the low and of the high nibbles, so
// a lane never mixes two groups: one int32 accumulator per block, then one convert and one
// multiply-add by a vector whose lanes hold their own group's scale (Q::sub_scales). Each group's
// `-offset * sum(xq)` (8, or 15 with zero points: Q::sub_zero adds 15 - z to the group's code
// bytes) starts in one lane of that group (Q::sub_init). The same instructions per block
// as one group of 128, plus building the scale and offset vectors (shared by the tile's rows / columns).
template <class Q, int GPB, int MR, int NR, bool ZP = false>
inline void tile_sub(const QuantActs& a, int m0, const Linear& W, int n, float* y, int ldy) {
  using VI = typename Q::VI;
  using VF = typename Q::VF;
  constexpr int XV = Q::XV;
  const int ng = a.groups;
  const int64_t rb = W.row_bytes();
  const uint8_t* wrow[NR];
  const float* wsc[NR];
  [[maybe_unused]] const uint8_t* wz[NR];
  for (int r = 0; r < NR; ++r) {
    wrow[r] = W.q + static_cast<int64_t>(n + r) * rb;
    wsc[r] = W.scales + static_cast<int64_t>(n + r) * ng;
    if constexpr (ZP) wz[r] = W.zeros + static_cast<int64_t>(n + r) * ng;
  }
  const int8_t* xrow[MR];
  const int32_t* xsum[MR];
  for (int m = 0; m < MR; ++m) {
    xrow[m] = a.q + static_cast<int64_t>(m0 + m) * a.kp;
    xsum[m] = a.sum + static_cast<int64_t>(m0 + m) * ng;
  }
  VF af[MR][NR];
  for (int m = 0; m < MR; ++m)
    for (int r = 0; r < NR; ++r) af[m][r] = Q::fzero();
  constexpr int offset = ZP ? 15 : 8;
  for (int kb = 0, g = 0; kb < a.kp; kb += kQuantBlock, g += GPB) {
    VI x[MR][XV], ax[MR][XV];
    typename Q::template SubInit<GPB> init[MR];
    for (int m = 0; m < MR; ++m) {
      Q::load_x(xrow[m] + kb, x[m], ax[m]);
      init[m] = Q::template sub_init<GPB, offset>(xsum[m] + g);
    }
    for (int r = 0; r < NR; ++r) {
      VI w[XV];
      Q::load_w4(wrow[r] + kb / 2, w);
      if constexpr (ZP) Q::template sub_zero<GPB>(w, wz[r] + g);
      const typename Q::template SubScales<GPB> sv = Q::template sub_scales<GPB>(wsc[r] + g);
      for (int m = 0; m < MR; ++m) af[m][r] = Q::template sub_mac<GPB>(af[m][r], init[m], w, x[m], sv);
    }
  }
  for (int m = 0; m < MR; ++m)
    for (int r = 0; r < NR; ++r) y[static_cast<int64_t>(m) * ldy + r] = Q::reduce(af[m][r]) * a.s[m0 + m];
}

// Picks the instance for `mr` rows (1..MRc) of an NR-wide panel.
// GPB > 0: wint4 groups below a block (tile_sub); ZP: with zero points.
template <class Q, int BITS, int NR, int MRc, int GPB = 0, bool ZP = false>
inline void tile_rows(int mr, const QuantActs& a, int m0, const Linear& W, int n, float* y, int ldy) {
  if constexpr (MRc >= 1) {
    if (mr == MRc) {
      if constexpr (GPB > 0) return tile_sub<Q, GPB, MRc, NR, ZP>(a, m0, W, n, y, ldy);
      else return tile<Q, BITS, MRc, NR, ZP>(a, m0, W, n, y, ldy);
    }
    tile_rows<Q, BITS, NR, MRc - 1, GPB, ZP>(mr, a, m0, W, n, y, ldy);
  }
}

template <class Q, int BITS, int MR, int NR, int GPB = 0, bool ZP = false>
inline void gemm_tiles(const QuantActs& a, int M, const Linear& W, int n0, int n1, float* y, int ldy) {
  const int MB = activation_block_rows(MR, a.kp);
  for (int mb = 0; mb < M; mb += MB) {
    const int me = std::min(M, mb + MB);
    for (int n = n0; n < n1; n += NR) {
      const int nr = std::min(NR, n1 - n);
      for (int m = mb; m < me; m += MR) {
        const int mr = std::min(MR, me - m);
        float* ym = y + static_cast<int64_t>(m) * ldy + (n - n0);
        if (nr == NR) tile_rows<Q, BITS, NR, MR, GPB, ZP>(mr, a, m, W, n, ym, ldy);
        else
          for (int r = 0; r < nr; ++r) tile_rows<Q, BITS, 1, MR, GPB, ZP>(mr, a, m, W, n + r, ym + r, ldy);
      }
    }
  }
}

template <class Q, int BITS, int GPB, bool ZP = false>
void gemm_q_as(const QuantActs& a, int M, const Linear& W, int n0, int n1, float* y, int ldy) {
  // Decode (one or two rows) is a weight stream: its own tile shape (Q::MR_STREAM x NR_STREAM).
  if (M <= Q::MR_STREAM) return gemm_tiles<Q, BITS, Q::MR_STREAM, Q::NR_STREAM, GPB, ZP>(a, M, W, n0, n1, y, ldy);
  gemm_tiles<Q, BITS, Q::MR, Q::NR, GPB, ZP>(a, M, W, n0, n1, y, ldy);
}

// Panel-format wint4 (quant.h uses_panels): Q::panel_tile<MR, NR> computes MR activation rows
// against NR whole panels (16 outputs each, one per lane). Rows outside whole panels of [n0, n1)
// take the scalar routine, which does the same arithmetic (they are tails of odd shapes: the
// model's row groups are whole panels).
template <class Q, int MR, int NR>
inline void panel_tiles(int mr, int nr, const QuantActs& a, int m0, const Linear& W, int p, float* y, int ldy) {
  if constexpr (MR >= 1 && NR >= 1) {
    if (mr < MR) return panel_tiles<Q, MR - 1, NR>(mr, nr, a, m0, W, p, y, ldy);
    if (nr < NR) return panel_tiles<Q, MR, NR - 1>(mr, nr, a, m0, W, p, y, ldy);
    Q::template panel_tile<MR, NR>(a, m0, W, p, y, ldy);
  }
}

template <class Q, int MR, int NR>
inline void gemm_panel_tiles(const QuantActs& a, int M, const Linear& W, int n0, int n1, float* y, int ldy) {
  const int p0 = (n0 + kPanel - 1) / kPanel, p1 = std::min(n1, W.panel_rows()) / kPanel;
  if (p0 >= p1) return gemm_q4_panels_scalar(a, M, W, n0, n1, y, ldy);
  if (n0 < p0 * kPanel) gemm_q4_panels_scalar(a, M, W, n0, p0 * kPanel, y, ldy);
  if (p1 * kPanel < n1) gemm_q4_panels_scalar(a, M, W, p1 * kPanel, n1, y + (p1 * kPanel - n0), ldy);
  const int MB = activation_block_rows(MR, a.kp);
  for (int mb = 0; mb < M; mb += MB) {
    const int me = std::min(M, mb + MB);
    for (int p = p0; p < p1; p += NR)
      for (int m = mb; m < me; m += MR)
        panel_tiles<Q, MR, NR>(std::min(MR, me - m), std::min(NR, p1 - p), a, m, W, p,
                               y + static_cast<int64_t>(m) * ldy + (p * kPanel - n0), ldy);
  }
}

template <class Q>
void gemm_panels(const QuantActs& a, int M, const Linear& W, int n0, int n1, float* y, int ldy) {
  if (M <= Q::PMR_STREAM) return gemm_panel_tiles<Q, Q::PMR_STREAM, Q::PNR_STREAM>(a, M, W, n0, n1, y, ldy);
  gemm_panel_tiles<Q, Q::PMR, Q::PNR>(a, M, W, n0, n1, y, ldy);
}

template <class Q, int BITS>
void gemm_q(const QuantActs& a, int M, const Linear& W, int n0, int n1, float* y, int ldy) {
  if constexpr (BITS == 4) {
    if (W.panels()) return gemm_panels<Q>(a, M, W, n0, n1, y, ldy);
    if (W.zeros) {
      if (W.group == 32) return gemm_q_as<Q, 4, 4, true>(a, M, W, n0, n1, y, ldy);
      if (W.group == 64) return gemm_q_as<Q, 4, 2, true>(a, M, W, n0, n1, y, ldy);
      return gemm_q_as<Q, 4, 0, true>(a, M, W, n0, n1, y, ldy);
    }
    if (W.group == 32) return gemm_q_as<Q, 4, 4>(a, M, W, n0, n1, y, ldy);
    if (W.group == 64) return gemm_q_as<Q, 4, 2>(a, M, W, n0, n1, y, ldy);
  }
  gemm_q_as<Q, BITS, 0>(a, M, W, n0, n1, y, ldy);
}

template <class Q>
QuantKernels make_quant_table(const char* name) {
  return QuantKernels{name, quantize_act_row, gemm_q<Q, 8>, gemm_q<Q, 4>, hadamard_detail::rotate, Q::mac_loop};
}

}  // namespace qsimd
}  // namespace tandem
