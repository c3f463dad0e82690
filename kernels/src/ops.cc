#include "ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "bf16.h"
#include "thread_pool.h"

namespace tandem {

namespace {
// Attention scratch: a transposed key tile and a value tile (fp32), the 16 scores and the running
// max / sum of every query in a chunk, and the chunk's query pointers.
int64_t attention_scratch_floats(int head_dim, int group) {
  const int64_t nq = static_cast<int64_t>(kAttentionChunk) * group;
  return 32LL * head_dim + 16 * nq + 2 * nq + 2 * nq /* pointers */ + 64;
}
}  // namespace

int64_t scratch_floats_per_thread(int max_k, int head_dim, int group) {
  // Rounded to a cache line so threads never share one.
  int64_t n = std::max<int64_t>(gemm_scratch_floats(max_k), attention_scratch_floats(head_dim, group));
  return (n + 15) / 16 * 16;
}

void op_embedding(const KernelTable& kt, const uint16_t* table, const int32_t* ids, int T, int H, float* out) {
  pool().parallel_for(T, [&](int64_t b, int64_t e, int) {
    for (int64_t t = b; t < e; ++t) kt.bf16_to_f32_row(table + static_cast<int64_t>(ids[t]) * H, out + t * H, H);
  });
}

void op_rmsnorm(const KernelTable& kt, const float* x, int rows, int cols, const float* w, float eps, float* out) {
  pool().parallel_for(rows, [&](int64_t b, int64_t e, int) {
    for (int64_t r = b; r < e; ++r) {
      const float* xr = x + r * cols;
      float* o = out + r * cols;
      const float inv = 1.0f / std::sqrt(kt.sum_squares(xr, cols) / static_cast<float>(cols) + eps);
      for (int c = 0; c < cols; ++c) o[c] = (xr[c] * inv) * w[c];
    }
  });
}

namespace {
// Threads take whole groups of weight rows, a multiple of every ISA's panel height (4 or 6), so
// no panel is split between two threads. Work split never changes results, only speed.
constexpr int kRowGroup = 24;
}  // namespace

void op_gemm_bf16(const KernelTable& kt, const float* x, int M, int K, const uint16_t* W, int N, float* y,
                  const Scratch& scratch) {
  const int groups = (N + kRowGroup - 1) / kRowGroup;
  pool().parallel_for(groups, [&](int64_t b, int64_t e, int tid) {
    const int n0 = static_cast<int>(b) * kRowGroup;
    const int n1 = std::min<int>(N, static_cast<int>(e) * kRowGroup);
    kt.gemm_bf16(x, K, M, K, W, n0, n1, y + n0, N, scratch.of(tid));
  });
}

namespace {
// Quantizes M activation rows for W's groups into qa (a few rows on the calling thread: a
// parallel region would cost more than it saves).
QuantActs quantize_activations(const QuantKernels& qk, const float* x, int M, const Linear& W, QuantActsBuf& qa) {
  const int K = W.cols;
  QuantActs a;
  a.kp = W.padded_cols();
  a.groups = W.groups();
  qa.q.resize(static_cast<size_t>(M) * a.kp);
  qa.s.resize(M);
  qa.sum.resize(static_cast<size_t>(M) * a.groups);
  a.q = qa.q.data();
  a.s = qa.s.data();
  a.sum = qa.sum.data();
  const auto quantize_rows = [&](int64_t b, int64_t e, int) {
    if (!W.rotated) {
      for (int64_t m = b; m < e; ++m)
        qk.quantize_row(x + m * K, K, W.group, a.kp, a.q + m * a.kp, a.s + m, a.sum + m * a.groups);
      return;
    }
    // Rotated weights: each activation row, zero-padded to Kp, is rotated the same way first.
    // Per thread, kept between calls: decode calls this once per down projection per step.
    thread_local std::vector<float> row;
    row.resize(a.kp);
    for (int64_t m = b; m < e; ++m) {
      std::copy(x + m * K, x + m * K + K, row.begin());
      std::fill(row.begin() + K, row.end(), 0.f);
      qk.rotate(row.data(), a.kp);
      qk.quantize_row(row.data(), a.kp, W.group, a.kp, a.q + m * a.kp, a.s + m, a.sum + m * a.groups);
    }
  };
  if (M <= 4) quantize_rows(0, M, 0);
  else pool().parallel_for(M, quantize_rows);
  return a;
}

// Rows per unit of parallel work on a quantized matrix: whole panels for the panel format.
int row_group(const Linear& W) { return W.panels() ? 2 * kPanel : kRowGroup; }

// Row groups [g0, g1) (row_group rows each) of one quantized matrix, in one kernel call.
void gemm_q_groups(const QuantKernels& qk, const QuantActs& a, int M, const Linear& W, int64_t g0, int64_t g1, float* y) {
  if (g0 >= g1) return;
  const int N = W.rows;
  const int n0 = static_cast<int>(g0) * row_group(W);
  const int n1 = std::min<int>(N, static_cast<int>(g1) * row_group(W));
  (W.bits == 8 ? qk.gemm_q8 : qk.gemm_q4)(a, M, W, n0, n1, y + n0, N);
}
}  // namespace

void op_linear(const KernelTable& kt, const QuantKernels& qk, const float* x, int M, const Linear& W, float* y,
               const Scratch& scratch, QuantActsBuf& qa) {
  if (W.bits == 16) return op_gemm_bf16(kt, x, M, W.cols, W.bf16, W.rows, y, scratch);
  const QuantActs a = quantize_activations(qk, x, M, W, qa);
  const int groups = (W.rows + row_group(W) - 1) / row_group(W);
  pool().parallel_for(groups, [&](int64_t b, int64_t e, int) { gemm_q_groups(qk, a, M, W, b, e, y); });
}

void op_linears(const KernelTable& kt, const QuantKernels& qk, const float* x, int M, const LinearOut* outs, int n, const Scratch& scratch,
                QuantActsBuf& qa) {
  const Linear& W0 = *outs[0].w;
  bool fusable = W0.bits != 16 && n <= kMaxFusedLinears;
  for (int i = 1; i < n && fusable; ++i) {
    const Linear& W = *outs[i].w;
    fusable = W.bits == W0.bits && W.cols == W0.cols && W.group == W0.group && W.panels() == W0.panels() && W.rotated == W0.rotated;
  }
  if (!fusable) {
    for (int i = 0; i < n; ++i) op_linear(kt, qk, x, M, *outs[i].w, outs[i].y, scratch, qa);
    return;
  }
  // One quantization of x and one parallel region for all: each matrix gets the same row groups
  // with the same kernel calls as its own op_linear call, so the results are the same bits.
  const QuantActs a = quantize_activations(qk, x, M, W0, qa);
  int64_t first[kMaxFusedLinears + 1] = {0};
  for (int i = 0; i < n; ++i) first[i + 1] = first[i] + (outs[i].w->rows + row_group(*outs[i].w) - 1) / row_group(*outs[i].w);
  pool().parallel_for(first[n], [&](int64_t b, int64_t e, int) {
    for (int i = 0; i < n; ++i)
      gemm_q_groups(qk, a, M, *outs[i].w, std::max(b, first[i]) - first[i], std::min(e, first[i + 1]) - first[i], outs[i].y);
  });
}

void op_gemm_f32(const KernelTable& kt, const float* x, int M, int K, const float* W, int N, float* y) {
  const int groups = (N + kRowGroup - 1) / kRowGroup;
  pool().parallel_for(groups, [&](int64_t b, int64_t e, int) {
    const int n0 = static_cast<int>(b) * kRowGroup;
    const int n1 = std::min<int>(N, static_cast<int>(e) * kRowGroup);
    kt.gemm_f32(x, K, M, K, W, n0, n1, y + n0, N);
  });
}

void rope_inv_freq(int head_dim, float theta, float* inv_freq) {
  for (int i = 0; i < head_dim / 2; ++i) {
    // As the reference implementation: 1 / theta^(2i/d), evaluated in fp32.
    float expo = static_cast<float>(2 * i) / static_cast<float>(head_dim);
    inv_freq[i] = 1.0f / static_cast<float>(std::pow(static_cast<double>(theta), static_cast<double>(expo)));
  }
}

void op_rope_interleaved(float* x, int T, int heads, int head_dim, const int32_t* positions, const float* inv_freq) {
  const int half = head_dim / 2;
  for (int t = 0; t < T; ++t) {
    const float pos = static_cast<float>(positions[t]);
    float* row = x + static_cast<int64_t>(t) * heads * head_dim;
    for (int i = 0; i < half; ++i) {
      const float angle = pos * inv_freq[i];
      const float c = static_cast<float>(std::cos(static_cast<double>(angle)));
      const float s = static_cast<float>(std::sin(static_cast<double>(angle)));
      for (int h = 0; h < heads; ++h) {
        float* p = row + h * head_dim + 2 * i;
        const float a = p[0], b = p[1];
        p[0] = a * c - b * s;
        p[1] = b * c + a * s;
      }
    }
  }
}

void op_kv_store(const float* k, const float* v, int T, const int64_t* slots, const KvLayout& kv, int layer) {
  const int64_t te = kv.token_elems();
  for (int t = 0; t < T; ++t) {
    const float* kr = k + t * te;
    const float* vr = v + t * te;
    const int64_t ko = kv.offset(layer, 0, slots[t]);
    const int64_t vo = kv.offset(layer, 1, slots[t]);
    if (kv.bf16) {
      uint16_t* base = static_cast<uint16_t*>(kv.base);
      for (int64_t i = 0; i < te; ++i) {
        base[ko + i] = f32_to_bf16(kr[i]);
        base[vo + i] = f32_to_bf16(vr[i]);
      }
    } else {
      float* base = static_cast<float*>(kv.base);
      std::memcpy(base + ko, kr, sizeof(float) * te);
      std::memcpy(base + vo, vr, sizeof(float) * te);
    }
  }
}

int build_attention_chunks(const int32_t* tok_seq, int T, int32_t* chunk_start) {
  int n = 0;
  for (int t = 0; t < T; ++t)
    if (t == 0 || tok_seq[t] != tok_seq[t - 1] || t - chunk_start[n - 1] == kAttentionChunk) chunk_start[n++] = t;
  chunk_start[n] = T;
  return n;
}

namespace {

// Loads key positions j0 .. j0+nk-1 of KV head g into a transposed fp32 key tile [hd][16] and a
// value tile [16][hd] (keys past nk are zero; their scores are masked anyway).
void load_kv_tile(const KernelTable& kt, const KvLayout& kv, int layer, const int32_t* bt, int g, int hd, int j0, int nk,
                  float* ktile, float* vtile) {
  std::memset(ktile, 0, sizeof(float) * hd * 16);
  for (int jj = 0; jj < nk; ++jj) {
    const int j = j0 + jj;
    const int64_t slot = static_cast<int64_t>(bt[j / kv.block_size]) * kv.block_size + j % kv.block_size;
    const int64_t ko = kv.offset(layer, 0, slot) + static_cast<int64_t>(g) * hd;
    const int64_t vo = kv.offset(layer, 1, slot) + static_cast<int64_t>(g) * hd;
    if (kv.bf16) {
      const uint16_t* base = static_cast<const uint16_t*>(kv.base);
      for (int d = 0; d < hd; ++d) ktile[d * 16 + jj] = bf16_to_f32(base[ko + d]);
      kt.bf16_to_f32_row(base + vo, vtile + jj * hd, hd);
    } else {
      const float* base = static_cast<const float*>(kv.base);
      for (int d = 0; d < hd; ++d) ktile[d * 16 + jj] = base[ko + d];
      std::memcpy(vtile + jj * hd, base + vo, sizeof(float) * hd);
    }
  }
}

}  // namespace

void op_attention(const KernelTable& kt, const AttentionArgs& a, const KvLayout& kv, int layer, const Scratch& scratch) {
  const int group = a.heads / a.kv_heads;
  const int hd = a.head_dim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const int64_t items = static_cast<int64_t>(a.n_chunks) * a.kv_heads;
  pool().parallel_for(items, [&](int64_t b, int64_t e, int tid) {
    float* ktile = scratch.of(tid);
    float* vtile = ktile + 16 * hd;
    float* scores = vtile + 16 * hd;                        // [nq][16]
    float* run_max = scores + 16 * kAttentionChunk * group;  // [nq]
    float* run_sum = run_max + kAttentionChunk * group;      // [nq]
    const float** qptr = reinterpret_cast<const float**>(run_sum + kAttentionChunk * group);
    // Per query of the current tile: its rescale factor and output row (kept per thread).
    thread_local std::vector<float> rescales;
    thread_local std::vector<float*> outs;
    rescales.resize(static_cast<size_t>(kAttentionChunk) * group);
    outs.resize(static_cast<size_t>(kAttentionChunk) * group);
    for (int64_t it = b; it < e; ++it) {
      const int c = static_cast<int>(it / a.kv_heads), g = static_cast<int>(it % a.kv_heads);
      const int t0 = a.chunk_start[c], t1 = a.chunk_start[c + 1];
      const int nq = (t1 - t0) * group;
      const int32_t* bt = a.block_tables + static_cast<int64_t>(a.tok_seq[t0]) * a.bt_stride;
      for (int i = 0; i < nq; ++i) {
        const int t = t0 + i / group, h = g * group + i % group;
        qptr[i] = a.q + (static_cast<int64_t>(t) * a.heads + h) * hd;
        std::memset(a.out + (static_cast<int64_t>(t) * a.heads + h) * hd, 0, sizeof(float) * hd);
        run_max[i] = -INFINITY;
        run_sum[i] = 0.f;
      }
      const int last = a.positions[t1 - 1];
      for (int j0 = 0; j0 <= last; j0 += 16) {
        const int nk = std::min(16, last + 1 - j0);
        load_kv_tile(kt, kv, layer, bt, g, hd, j0, nk, ktile, vtile);
        // Queries whose position is before this tile are done; they sit at the chunk's start.
        int first = 0;
        while (first < nq && a.positions[t0 + first / group] < j0) ++first;
        kt.attn_scores16(qptr + first, nq - first, ktile, hd, scale, scores + first * 16);
        for (int i = first; i < nq; ++i) {
          const int t = t0 + i / group, h = g * group + i % group;
          const int nv = std::min(nk, a.positions[t] + 1 - j0);
          float* s = scores + i * 16;
          float tile_max = s[0];
          for (int j = 1; j < nv; ++j) tile_max = std::max(tile_max, s[j]);
          const float m = std::max(run_max[i], tile_max);
          // Rescaling by exactly 1 is skipped inside pv; the first tile rescales zeros.
          rescales[i] = run_max[i] == m ? 1.0f : std::exp(run_max[i] - m);
          run_sum[i] = run_sum[i] * rescales[i] + kt.attn_exp16(s, nv, m);
          outs[i] = a.out + (static_cast<int64_t>(t) * a.heads + h) * hd;
          run_max[i] = m;
        }
        // P x V for the GQA heads of one token at a time (they share n): one V row load for all.
        for (int i = first; i < nq;) {
          const int t = t0 + i / group;
          const int end = std::min(nq, (i / group + 1) * group);
          kt.attn_pv16_rows(scores + i * 16, end - i, std::min(nk, a.positions[t] + 1 - j0), vtile, hd, rescales.data() + i, outs.data() + i);
          i = end;
        }
      }
      for (int i = 0; i < nq; ++i) {
        const int t = t0 + i / group, h = g * group + i % group;
        float* out = a.out + (static_cast<int64_t>(t) * a.heads + h) * hd;
        const float inv = 1.0f / run_sum[i];
        for (int d = 0; d < hd; ++d) out[d] *= inv;
      }
    }
  });
}

void op_silu_mul(const float* g, const float* u, int64_t n, float* out) {
  const auto silu = [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) out[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
  };
  // One decode token's MLP (a few thousand values) is done before a parallel region would start.
  if (n <= 16384) silu(0, n, 0);
  else pool().parallel_for(n, silu);
}

void op_add_inplace(float* x, const float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

void op_moe_route(const float* logits, int T, int E, const float* bias, int k, float norm_min, int32_t* sel,
                  float* weights) {
  for (int t = 0; t < T; ++t) {
    const float* l = logits + static_cast<int64_t>(t) * E;
    float mx = -INFINITY;
    for (int e = 0; e < E; ++e) mx = std::max(mx, l[e]);
    float sum = 0.f;
    for (int e = 0; e < E; ++e) sum += std::exp(l[e] - mx);
    int32_t* s = sel + static_cast<int64_t>(t) * k;
    float* w = weights + static_cast<int64_t>(t) * k;
    // Selection by corrected score; the chosen entries are kept sorted by score (descending), ties by index.
    for (int j = 0; j < k; ++j) s[j] = -1;
    for (int e = 0; e < E; ++e) {
      const float score = std::exp(l[e] - mx) / sum + bias[e];
      int pos = k;
      while (pos > 0) {
        const int32_t other = s[pos - 1];
        if (other >= 0) {
          const float os = std::exp(l[other] - mx) / sum + bias[other];
          if (!(score > os)) break;
        }
        --pos;
      }
      if (pos >= k) continue;
      for (int j = k - 1; j > pos; --j) s[j] = s[j - 1];
      s[pos] = e;
    }
    float wsum = 0.f;
    for (int j = 0; j < k; ++j) {
      w[j] = std::exp(l[s[j]] - mx) / sum;
      wsum += w[j];
    }
    const float denom = std::max(wsum, norm_min);
    for (int j = 0; j < k; ++j) w[j] /= denom;
  }
}

}  // namespace tandem
