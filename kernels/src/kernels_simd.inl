// Vectorized primitives written once over an ISA traits type `S` (see kernels_avx2.cc and
// kernels_avx512.cc, which set the target ISA and include this file).
//
// Every output element is accumulated lane-wise in k order (lane j sums k = j, j+L, j+2L, ...) and
// then reduced horizontally by S::reduce. Tile shapes (MR x NR), packing and padding change which
// loads happen, not the arithmetic of any element: that is the batch-invariance guarantee.
#include <algorithm>
#include <cstdint>
#include <cstring>

namespace tandem {
namespace simd {

template <class S>
inline typename S::V load_w(const float* w) { return S::load(w); }
template <class S>
inline typename S::V load_w(const uint16_t* w) { return S::load_bf16(w); }

// Zero-padded copies of a tail shorter than one vector, so tails run through the same FMA path.
template <class S>
inline void pad_tail(const float* src, int n, float* dst) {
  std::memset(dst, 0, sizeof(float) * S::L);
  std::memcpy(dst, src, sizeof(float) * n);
}
template <class S>
inline void pad_tail(const uint16_t* src, int n, uint16_t* dst) {
  std::memset(dst, 0, sizeof(uint16_t) * S::L);
  std::memcpy(dst, src, sizeof(uint16_t) * n);
}

template <class S, int MR, int NR, class WT>
inline void micro(const float* x, int ldx, const WT* W, int64_t ldw, int K, float* y, int ldy) {
  using V = typename S::V;
  V acc[MR][NR];
  for (int m = 0; m < MR; ++m)
    for (int r = 0; r < NR; ++r) acc[m][r] = S::zero();
  const int Kv = K / S::L * S::L;
  for (int k = 0; k < Kv; k += S::L) {
    V xv[MR];
    for (int m = 0; m < MR; ++m) xv[m] = S::load(x + static_cast<int64_t>(m) * ldx + k);
    for (int r = 0; r < NR; ++r) {
      V w = load_w<S>(W + r * ldw + k);
      for (int m = 0; m < MR; ++m) acc[m][r] = S::fma(xv[m], w, acc[m][r]);
    }
  }
  if (Kv < K) {
    alignas(64) float xt[S::L];
    alignas(64) WT wt[S::L];
    for (int r = 0; r < NR; ++r) {
      pad_tail<S>(W + r * ldw + Kv, K - Kv, wt);
      V w = load_w<S>(wt);
      for (int m = 0; m < MR; ++m) {
        pad_tail<S>(x + static_cast<int64_t>(m) * ldx + Kv, K - Kv, xt);
        acc[m][r] = S::fma(S::load(xt), w, acc[m][r]);
      }
    }
  }
  for (int m = 0; m < MR; ++m)
    for (int r = 0; r < NR; ++r) y[static_cast<int64_t>(m) * ldy + r] = S::reduce(acc[m][r]);
}

// Picks the MR-row instance for the `mr` rows left (1..S::MR).
template <class S, int NR, class WT, int MRc = S::MR>
inline void micro_rows(int mr, const float* x, int ldx, const WT* W, int64_t ldw, int K, float* y, int ldy) {
  if constexpr (MRc >= 1) {
    if (mr == MRc) return micro<S, MRc, NR>(x, ldx, W, ldw, K, y, ldy);
    micro_rows<S, NR, WT, MRc - 1>(mr, x, ldx, W, ldw, K, y, ldy);
  }
}

template <class S, class WT>
inline void gemm_panel(const float* x, int ldx, int m0, int m1, int K, const WT* Wn, int nr, float* yn, int ldy) {
  for (int m = m0; m < m1; m += S::MR) {
    int mr = std::min(S::MR, m1 - m);
    const float* xm = x + static_cast<int64_t>(m) * ldx;
    float* ym = yn + static_cast<int64_t>(m) * ldy;
    if (nr == S::NR) {
      micro_rows<S, S::NR>(mr, xm, ldx, Wn, K, K, ym, ldy);
    } else {
      for (int r = 0; r < nr; ++r) micro_rows<S, 1>(mr, xm, ldx, Wn + static_cast<int64_t>(r) * K, K, K, ym + r, ldy);
    }
  }
}

// bf16 weights are consumed in blocks of 2L elements: loaded as L 32-bit words, the low halves are
// the even elements and the high halves the odd ones, so widening is one shift and one AND (no
// shuffles). Activations are de-interleaved to match: per block, [L even | L odd] (zero padded).
// Lane j of an accumulator therefore sums, block by block, element 2j and then 2j+1. Packed fp32
// panels use the same de-interleaved layout, so the packed and streaming paths give the same bits.
template <class S>
inline int padded_k(int K) {
  return (K + 2 * S::L - 1) / (2 * S::L) * (2 * S::L);
}

template <class S>
inline void deinterleave_x(const float* x, int K, float* out) {
  const int Kp = padded_k<S>(K);
  for (int k0 = 0; k0 < Kp; k0 += 2 * S::L)
    for (int j = 0; j < S::L; ++j) {
      const int e = k0 + 2 * j;
      out[k0 + j] = e < K ? x[e] : 0.f;
      out[k0 + S::L + j] = e + 1 < K ? x[e + 1] : 0.f;
    }
}

// One weight row into the packed (de-interleaved fp32) layout.
template <class S>
inline void pack_bf16_row(const uint16_t* w, int K, float* out) {
  using V = typename S::V;
  const int B = 2 * S::L, Kf = K / B * B;
  V e, o;
  for (int k = 0; k < Kf; k += B) {
    S::load_bf16_pairs(w + k, &e, &o);
    S::store(out + k, e);
    S::store(out + k + S::L, o);
  }
  if (Kf < K) {
    alignas(64) uint16_t tail[2 * S::L] = {};
    std::memcpy(tail, w + Kf, sizeof(uint16_t) * (K - Kf));
    S::load_bf16_pairs(tail, &e, &o);
    S::store(out + Kf, e);
    S::store(out + Kf + S::L, o);
  }
}

// Streaming tile: MR de-interleaved activation rows x NR bf16 weight rows read straight from memory.
template <class S, int MR, int NR>
inline void micro_bf16(const float* xs, int ldxs, const uint16_t* W, int64_t ldw, int K, float* y, int ldy) {
  using V = typename S::V;
  V acc[MR][NR];
  for (int m = 0; m < MR; ++m)
    for (int r = 0; r < NR; ++r) acc[m][r] = S::zero();
  const int B = 2 * S::L, Kf = K / B * B;
  auto step = [&](const float* xk, int64_t ldx, const uint16_t* const* wk) {
    V xe[MR], xo[MR];
    for (int m = 0; m < MR; ++m) {
      xe[m] = S::load(xk + m * ldx);
      xo[m] = S::load(xk + m * ldx + S::L);
    }
    for (int r = 0; r < NR; ++r) {
      V we, wo;
      S::load_bf16_pairs(wk[r], &we, &wo);
      for (int m = 0; m < MR; ++m) {
        acc[m][r] = S::fma(xe[m], we, acc[m][r]);
        acc[m][r] = S::fma(xo[m], wo, acc[m][r]);
      }
    }
  };
  const uint16_t* wk[NR];
  // No software prefetch: on the machines measured it slowed this sequential stream down.
  for (int k = 0; k < Kf; k += B) {
    for (int r = 0; r < NR; ++r) wk[r] = W + r * ldw + k;
    step(xs + k, ldxs, wk);
  }
  if (Kf < K) {
    alignas(64) uint16_t tails[NR][2 * S::L] = {};
    for (int r = 0; r < NR; ++r) {
      std::memcpy(tails[r], W + r * ldw + Kf, sizeof(uint16_t) * (K - Kf));
      wk[r] = tails[r];
    }
    step(xs + Kf, ldxs, wk);
  }
  for (int m = 0; m < MR; ++m)
    for (int r = 0; r < NR; ++r) y[static_cast<int64_t>(m) * ldy + r] = S::reduce(acc[m][r]);
}

template <class S, int NR, int MRc = S::MRB>
inline void micro_bf16_rows(int mr, const float* xs, int ldxs, const uint16_t* W, int64_t ldw, int K, float* y, int ldy) {
  if constexpr (MRc >= 1) {
    if (mr == MRc) return micro_bf16<S, MRc, NR>(xs, ldxs, W, ldw, K, y, ldy);
    micro_bf16_rows<S, NR, MRc - 1>(mr, xs, ldxs, W, ldw, K, y, ldy);
  }
}

template <class S>
void gemm_bf16(const float* x, int ldx, int M, int K, const uint16_t* W, int n0, int n1, float* y, int ldy,
               float* scratch) {
  // Few rows (decode): stream the weights from memory once. More rows (prefill): convert each
  // panel of NR weight rows to fp32 once and reuse it for a block of MB rows (pure FMA kernel).
  constexpr int MB = 64;
  const int Kp = padded_k<S>(K);
  float* panel = scratch;                               // NR x Kp
  float* xs = scratch + static_cast<int64_t>(S::NR) * Kp;  // up to MB x Kp
  if (M <= S::MRB) {
    for (int m = 0; m < M; ++m) deinterleave_x<S>(x + static_cast<int64_t>(m) * ldx, K, xs + static_cast<int64_t>(m) * Kp);
    // One weight row at a time: a single sequential stream is what the hardware prefetchers
    // follow best (several interleaved row streams measured at half the bandwidth).
    for (int n = n0; n < n1; ++n)
      micro_bf16_rows<S, 1>(M, xs, Kp, W + static_cast<int64_t>(n) * K, K, K, y + (n - n0), ldy);
    return;
  }
  for (int mb = 0; mb < M; mb += MB) {
    const int me = std::min(M, mb + MB);
    for (int m = mb; m < me; ++m)
      deinterleave_x<S>(x + static_cast<int64_t>(m) * ldx, K, xs + static_cast<int64_t>(m - mb) * Kp);
    for (int n = n0; n < n1; n += S::NR) {
      const int nr = std::min(S::NR, n1 - n);
      // Ask for the next panel's weights now, so DRAM latency overlaps this panel's FMAs.
      if (n + S::NR < n1) {
        const char* next = reinterpret_cast<const char*>(W + static_cast<int64_t>(n + S::NR) * K);
        const int64_t bytes = static_cast<int64_t>(std::min(S::NR, n1 - n - S::NR)) * K * 2;
        for (int64_t off = 0; off < bytes; off += 64) S::prefetch_l2(next + off);
      }
      for (int r = 0; r < nr; ++r) pack_bf16_row<S>(W + static_cast<int64_t>(n + r) * K, K, panel + static_cast<int64_t>(r) * Kp);
      float* yn = y + (n - n0) + static_cast<int64_t>(mb) * ldy;
      for (int m = 0; m < me - mb; m += S::MR) {
        const int mr = std::min(S::MR, me - mb - m);
        const float* xm = xs + static_cast<int64_t>(m) * Kp;
        float* ym = yn + static_cast<int64_t>(m) * ldy;
        if (nr == S::NR) micro_rows<S, S::NR>(mr, xm, Kp, panel, Kp, Kp, ym, ldy);
        else
          for (int r = 0; r < nr; ++r) micro_rows<S, 1>(mr, xm, Kp, panel + static_cast<int64_t>(r) * Kp, Kp, Kp, ym + r, ldy);
      }
    }
  }
}

template <class S>
void gemm_f32(const float* x, int ldx, int M, int K, const float* W, int n0, int n1, float* y, int ldy) {
  for (int n = n0; n < n1; n += S::NR) {
    const int nr = std::min(S::NR, n1 - n);
    gemm_panel<S, float>(x, ldx, 0, M, K, W + static_cast<int64_t>(n) * K, nr, y + (n - n0), ldy);
  }
}

template <class S, class WT>
inline float dot(const float* a, const WT* b, int n) {
  float r;
  micro<S, 1, 1>(a, 0, b, 0, n, &r, 0);
  return r;
}

template <class S>
float dot_bf16(const float* a, const uint16_t* b, int n) { return dot<S>(a, b, n); }
template <class S>
float dot_f32(const float* a, const float* b, int n) { return dot<S>(a, b, n); }

template <class S, class WT>
inline void axpy(float a, const WT* v, float* out, int n) {
  using V = typename S::V;
  const V av = S::set1(a);
  int i = 0;
  for (; i + S::L <= n; i += S::L) S::store(out + i, S::fma(av, load_w<S>(v + i), S::load(out + i)));
  for (; i < n; ++i) {
    // Same rounding as the vector lanes: one fused multiply-add per element.
    out[i] = S::fma_scalar(a, S::to_f32(v[i]), out[i]);
  }
}

template <class S>
void axpy_bf16(float a, const uint16_t* v, float* out, int n) { axpy<S>(a, v, out, n); }
template <class S>
void axpy_f32(float a, const float* v, float* out, int n) { axpy<S>(a, v, out, n); }

template <class S>
float sum_squares(const float* x, int n) {
  float r;
  micro<S, 1, 1>(x, 0, x, 0, n, &r, 0);
  return r;
}

template <class S>
void bf16_to_f32_row(const uint16_t* in, float* out, int n) { S::cvt_row(in, out, n); }

// Queries are processed up to QB at a time so that each key row loaded serves QB independent
// accumulator chains; any split gives the same per-query result.
template <class S, int NQ>
inline void scores_tile(const float* const* q, const float* kt, int hd, float scale, float* s) {
  using V = typename S::V;
  constexpr int KV = 16 / S::L;  // vectors per row of 16 keys
  V acc[NQ][KV];
  for (int i = 0; i < NQ; ++i)
    for (int c = 0; c < KV; ++c) acc[i][c] = S::zero();
  for (int d = 0; d < hd; ++d) {
    V k[KV];
    for (int c = 0; c < KV; ++c) k[c] = S::load(kt + d * 16 + c * S::L);
    for (int i = 0; i < NQ; ++i) {
      const V qd = S::set1(q[i][d]);
      for (int c = 0; c < KV; ++c) acc[i][c] = S::fma(qd, k[c], acc[i][c]);
    }
  }
  const V sc = S::set1(scale);
  for (int i = 0; i < NQ; ++i)
    for (int c = 0; c < KV; ++c) S::store(s + i * 16 + c * S::L, S::mul(acc[i][c], sc));
}

template <class S, int NQc = S::QB>
inline void scores_rows(int nq, const float* const* q, const float* kt, int hd, float scale, float* s) {
  if constexpr (NQc >= 1) {
    if (nq == NQc) return scores_tile<S, NQc>(q, kt, hd, scale, s);
    scores_rows<S, NQc - 1>(nq, q, kt, hd, scale, s);
  }
}

template <class S>
void attn_scores16(const float* const* q, int nq, const float* kt, int hd, float scale, float* s) {
  for (int i = 0; i < nq; i += S::QB) scores_rows<S>(std::min(S::QB, nq - i), q + i, kt, hd, scale, s + i * 16);
}

template <class S>
float attn_exp16(float* s, int n, float m) {
  using V = typename S::V;
  const V mv = S::set1(m);
  V total = S::zero();
  for (int c = 0; c < 16; c += S::L) {
    V e = S::exp(S::sub(S::load(s + c), mv));
    e = S::keep_first(e, n - c);  // lanes past the last valid key are exactly 0
    S::store(s + c, e);
    total = S::add(total, e);
  }
  return S::reduce(total);
}

template <class S>
void attn_pv16(const float* p, int n, const float* v, int hd, float scale, float* out) {
  using V = typename S::V;
  const bool rescale = scale != 1.0f;
  int d = 0;
  for (; d + S::L <= hd; d += S::L) {
    V o = S::load(out + d);
    if (rescale) o = S::mul(o, S::set1(scale));
    for (int j = 0; j < n; ++j) o = S::fma(S::set1(p[j]), S::load(v + j * hd + d), o);
    S::store(out + d, o);
  }
  for (; d < hd; ++d) {
    float o = rescale ? out[d] * scale : out[d];
    for (int j = 0; j < n; ++j) o = S::fma_scalar(p[j], v[j * hd + d], o);
    out[d] = o;
  }
}

// NQ queries against one V tile: per pair of vectors of head dims, 2 NQ accumulator chains share
// each V row load. Each query's operations are attn_pv16's, in its order.
template <class S, int NQ>
inline void pv_rows_tile(const float* p, int n, const float* v, int hd, const float* scales, float* const* outs) {
  using V = typename S::V;
  int d = 0;
  const auto start = [&](int i, int dd) {
    V o = S::load(outs[i] + dd);
    return scales[i] != 1.0f ? S::mul(o, S::set1(scales[i])) : o;
  };
  for (; d + 2 * S::L <= hd; d += 2 * S::L) {
    V o0[NQ], o1[NQ];
    for (int i = 0; i < NQ; ++i) {
      o0[i] = start(i, d);
      o1[i] = start(i, d + S::L);
    }
    for (int j = 0; j < n; ++j) {
      const V v0 = S::load(v + j * hd + d), v1 = S::load(v + j * hd + d + S::L);
      for (int i = 0; i < NQ; ++i) {
        const V pj = S::set1(p[i * 16 + j]);
        o0[i] = S::fma(pj, v0, o0[i]);
        o1[i] = S::fma(pj, v1, o1[i]);
      }
    }
    for (int i = 0; i < NQ; ++i) {
      S::store(outs[i] + d, o0[i]);
      S::store(outs[i] + d + S::L, o1[i]);
    }
  }
  // The rest of the head dims (an odd vector, a scalar tail): attn_pv16's loop from d on.
  if (d < hd)
    for (int i = 0; i < NQ; ++i) {
      const float* pi = p + i * 16;
      const bool rescale = scales[i] != 1.0f;
      int e = d;
      for (; e + S::L <= hd; e += S::L) {
        V o = S::load(outs[i] + e);
        if (rescale) o = S::mul(o, S::set1(scales[i]));
        for (int j = 0; j < n; ++j) o = S::fma(S::set1(pi[j]), S::load(v + j * hd + e), o);
        S::store(outs[i] + e, o);
      }
      for (; e < hd; ++e) {
        float o = rescale ? outs[i][e] * scales[i] : outs[i][e];
        for (int j = 0; j < n; ++j) o = S::fma_scalar(pi[j], v[j * hd + e], o);
        outs[i][e] = o;
      }
    }
}

template <class S>
void attn_pv16_rows(const float* p, int nq, int n, const float* v, int hd, const float* scales, float* const* outs) {
  constexpr int NQ = 4;
  int i = 0;
  for (; i + NQ <= nq; i += NQ) pv_rows_tile<S, NQ>(p + 16 * i, n, v, hd, scales + i, outs + i);
  for (; i < nq; ++i) pv_rows_tile<S, 1>(p + 16 * i, n, v, hd, scales + i, outs + i);
}

template <class S>
float stream_sum(const float* x, int64_t n) {
  using V = typename S::V;
  V a0 = S::zero(), a1 = S::zero(), a2 = S::zero(), a3 = S::zero();
  int64_t i = 0;
  for (; i + 4 * S::L <= n; i += 4 * S::L) {
    a0 = S::add(a0, S::load(x + i));
    a1 = S::add(a1, S::load(x + i + S::L));
    a2 = S::add(a2, S::load(x + i + 2 * S::L));
    a3 = S::add(a3, S::load(x + i + 3 * S::L));
  }
  float r = S::reduce(S::add(S::add(a0, a1), S::add(a2, a3)));
  for (; i < n; ++i) r += x[i];
  return r;
}

template <class S>
double fma_loop(int64_t iters, float* sink) {
  using V = typename S::V;
  // 12 independent chains cover the FMA latency on every core measured; more made the compiler
  // spill and under-report the peak.
  constexpr int A = 12;
  V acc[A];
  for (int a = 0; a < A; ++a) acc[a] = S::set1(static_cast<float>(a) * 1e-3f);
  const V m = S::set1(0.999f), c = S::set1(1e-4f);
  for (int64_t it = 0; it < iters; ++it)
    for (int a = 0; a < A; ++a) acc[a] = S::fma(acc[a], m, c);
  V s = acc[0];
  for (int a = 1; a < A; ++a) s = S::add(s, acc[a]);
  *sink = S::reduce(s);
  return static_cast<double>(iters) * A * S::L * 2.0;
}

template <class S>
KernelTable make_table(const char* name) {
  return KernelTable{name,           gemm_bf16<S>,      gemm_f32<S>,     dot_bf16<S>,   dot_f32<S>,
                     axpy_bf16<S>,   axpy_f32<S>,       sum_squares<S>,  attn_scores16<S>, attn_exp16<S>,
                     attn_pv16<S>,   attn_pv16_rows<S>, bf16_to_f32_row<S>, stream_sum<S>, fma_loop<S>};
}

}  // namespace simd
}  // namespace tandem
