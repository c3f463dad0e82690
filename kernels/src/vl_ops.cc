#include "vl_ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "thread_pool.h"

namespace tandem {

void op_layernorm(const KernelTable& kt, const float* x, int rows, int cols, const float* w, const float* b, float eps,
                  float* out) {
  pool().parallel_for(rows, [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * cols;
      float* o = out + r * cols;
      float sum = 0.f;
      for (int c = 0; c < cols; ++c) sum += xr[c];
      const float mean = sum / static_cast<float>(cols);
      for (int c = 0; c < cols; ++c) o[c] = xr[c] - mean;
      const float var = kt.sum_squares(o, cols) / static_cast<float>(cols);
      const float inv = 1.0f / std::sqrt(var + eps);
      for (int c = 0; c < cols; ++c) o[c] = o[c] * inv * w[c] + b[c];
    }
  });
}

void op_linear_bf16(const KernelTable& kt, const float* x, int M, int K, const uint16_t* W, int N, const float* bias,
                    float* y, const Scratch& scratch) {
  op_gemm_bf16(kt, x, M, K, W, N, y, scratch);
  if (!bias) return;
  pool().parallel_for(M, [&](int64_t m0, int64_t m1, int) {
    for (int64_t m = m0; m < m1; ++m)
      for (int n = 0; n < N; ++n) y[m * N + n] += bias[n];
  });
}

void op_quick_gelu(float* x, int64_t n) {
  pool().parallel_for(n, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) x[i] = x[i] / (1.0f + std::exp(-1.702f * x[i]));
  });
}

void op_gelu_erf(float* x, int64_t n) {
  pool().parallel_for(n, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) x[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * 0.70710678118654752f));
  });
}

void vision_rope_inv_freq(int hd, float theta, float* inv_freq) {
  const int dim = hd / 2;  // the rotary table covers half a head; its frequencies step by 2
  for (int j = 0; j < hd / 4; ++j) {
    const float expo = static_cast<float>(2 * j) / static_cast<float>(dim);
    inv_freq[j] = 1.0f / static_cast<float>(std::pow(static_cast<double>(theta), static_cast<double>(expo)));
  }
}

namespace {
inline void cos_sin(float angle, float* c, float* s) {
  // Evaluated in double and rounded, as op_rope_interleaved does, so text tokens of the VL model
  // turn exactly like those of the text model.
  *c = static_cast<float>(std::cos(static_cast<double>(angle)));
  *s = static_cast<float>(std::sin(static_cast<double>(angle)));
}
}  // namespace

void op_rope_vision2d(float* x, int rows, int ld, int heads, int hd, const int32_t* pos_h, const int32_t* pos_w,
                      const float* inv_freq) {
  const int half = hd / 2, quarter = hd / 4;
  pool().parallel_for(rows, [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; ++r) {
      float* row = x + r * ld;
      for (int i = 0; i < half; ++i) {
        const float pos = static_cast<float>(i < quarter ? pos_h[r] : pos_w[r]);
        float c, s;
        cos_sin(pos * inv_freq[i % quarter], &c, &s);
        for (int h = 0; h < heads; ++h) {
          float* p = row + h * hd;
          const float a = p[i], b = p[i + half];
          p[i] = a * c - b * s;
          p[i + half] = b * c + a * s;
        }
      }
    }
  });
}

void op_rope_3d(float* x, int T, int heads, int hd, const int32_t* pos3, int t_pairs, const float* inv_freq) {
  const int half = hd / 2, hw_pairs = half - t_pairs;
  for (int t = 0; t < T; ++t) {
    const int32_t* p3 = pos3 + 3 * t;
    float* row = x + static_cast<int64_t>(t) * heads * hd;
    for (int i = 0; i < half; ++i) {
      const int32_t pos = i >= hw_pairs ? p3[0] : (i % 2 == 0 ? p3[1] : p3[2]);
      float c, s;
      cos_sin(static_cast<float>(pos) * inv_freq[i], &c, &s);
      for (int h = 0; h < heads; ++h) {
        float* p = row + h * hd + 2 * i;
        const float a = p[0], b = p[1];
        p[0] = a * c - b * s;
        p[1] = b * c + a * s;
      }
    }
  }
}

int64_t full_attention_scratch_floats(int hd) {
  // key tile (transposed) + value tile, 16x16 scores, running max/sum of 16 queries, 16 pointers.
  const int64_t n = 32LL * hd + 16 * 16 + 2 * 16 + 2 * 16 + 64;
  return (n + 15) / 16 * 16;
}

void op_full_attention(const KernelTable& kt, const FullAttentionArgs& a, float* scratch, int64_t per_thread) {
  const int hd = a.hd;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  // Work items: (segment, chunk of 16 queries, head). chunk_base[s] = first item of segment s.
  int64_t items = 0;
  for (int s = 0; s < a.n_seg; ++s) items += static_cast<int64_t>((a.seg[s + 1] - a.seg[s] + 15) / 16) * a.heads;
  pool().parallel_for(items, [&](int64_t b, int64_t e, int tid) {
    float* ktile = scratch + per_thread * tid;
    float* vtile = ktile + 16 * hd;
    float* scores = vtile + 16 * hd;
    float* run_max = scores + 16 * 16;
    float* run_sum = run_max + 16;
    const float** qptr = reinterpret_cast<const float**>(run_sum + 16);
    int s = 0;
    int64_t seg_first = 0;  // first item of segment s
    for (int64_t it = b; it < e; ++it) {
      for (;;) {
        const int64_t n_items = static_cast<int64_t>((a.seg[s + 1] - a.seg[s] + 15) / 16) * a.heads;
        if (it < seg_first + n_items) break;
        seg_first += n_items;
        ++s;
      }
      const int r0 = a.seg[s], r1 = a.seg[s + 1];
      const int64_t local = it - seg_first;
      const int chunk = static_cast<int>(local / a.heads), h = static_cast<int>(local % a.heads);
      const int q0 = r0 + chunk * 16, nq = std::min(16, r1 - q0);
      for (int i = 0; i < nq; ++i) {
        qptr[i] = a.q + static_cast<int64_t>(q0 + i) * a.ld + h * hd;
        std::memset(a.out + (static_cast<int64_t>(q0 + i) * a.heads + h) * hd, 0, sizeof(float) * hd);
        run_max[i] = -INFINITY;
        run_sum[i] = 0.f;
      }
      for (int j0 = r0; j0 < r1; j0 += 16) {
        const int nk = std::min(16, r1 - j0);
        std::memset(ktile, 0, sizeof(float) * hd * 16);
        for (int jj = 0; jj < nk; ++jj) {
          const float* kr = a.k + static_cast<int64_t>(j0 + jj) * a.ld + h * hd;
          for (int d = 0; d < hd; ++d) ktile[d * 16 + jj] = kr[d];
          std::memcpy(vtile + jj * hd, a.v + static_cast<int64_t>(j0 + jj) * a.ld + h * hd, sizeof(float) * hd);
        }
        kt.attn_scores16(qptr, nq, ktile, hd, scale, scores);
        for (int i = 0; i < nq; ++i) {
          float* sc = scores + i * 16;
          float tile_max = sc[0];
          for (int j = 1; j < nk; ++j) tile_max = std::max(tile_max, sc[j]);
          const float m = std::max(run_max[i], tile_max);
          const float rescale = run_max[i] == m ? 1.0f : std::exp(run_max[i] - m);
          run_sum[i] = run_sum[i] * rescale + kt.attn_exp16(sc, nk, m);
          kt.attn_pv16(sc, nk, vtile, hd, rescale, a.out + (static_cast<int64_t>(q0 + i) * a.heads + h) * hd);
          run_max[i] = m;
        }
      }
      for (int i = 0; i < nq; ++i) {
        float* o = a.out + (static_cast<int64_t>(q0 + i) * a.heads + h) * hd;
        const float inv = 1.0f / run_sum[i];
        for (int d = 0; d < hd; ++d) o[d] *= inv;
      }
    }
  });
}

void op_patchify(const float* pixels, int C, int H, int W, int p, int m, float* out, int32_t* pos_h, int32_t* pos_w) {
  const int gh = H / p, gw = W / p;
  const int64_t row = static_cast<int64_t>(C) * p * p;
  int64_t n = 0;
  for (int wr = 0; wr < gh / m; ++wr)
    for (int wc = 0; wc < gw / m; ++wc)
      for (int r = 0; r < m; ++r)
        for (int c = 0; c < m; ++c, ++n) {
          const int gr = wr * m + r, gc = wc * m + c;
          pos_h[n] = gr;
          pos_w[n] = gc;
          float* o = out + n * row;
          for (int ch = 0; ch < C; ++ch)
            for (int y = 0; y < p; ++y)
              std::memcpy(o + (static_cast<int64_t>(ch) * p + y) * p,
                          pixels + (static_cast<int64_t>(ch) * H + gr * p + y) * W + gc * p, sizeof(float) * p);
        }
}

void op_duplicate_frame(const float* x, int n, int dim, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    std::memcpy(out + i * 2 * dim, x + i * dim, sizeof(float) * dim);
    std::memcpy(out + i * 2 * dim + dim, x + i * dim, sizeof(float) * dim);
  }
}

}  // namespace tandem
