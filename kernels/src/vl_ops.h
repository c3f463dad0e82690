// Ops of the ERNIE-4.5-VL model that the text decoder does not need: the vision encoder (ViT),
// the resampler that turns patches into text-width tokens, and the 3-D RoPE of the VL decoder.
// Same rules as ops.h: raw pointers and shapes, no allocation, reductions through a KernelTable
// (so every ISA has the scalar table as its reference) and batch invariance per row.
#pragma once
#include <cstdint>

#include "kernel_table.h"
#include "ops.h"

namespace tandem {

// out[r] = (x[r] - mean) / sqrt(var + eps) * w + b. The mean is a plain sequential fp32 sum (the
// same bits on every ISA); the variance goes through kt.sum_squares of the centred row.
void op_layernorm(const KernelTable& kt, const float* x, int rows, int cols, const float* w, const float* b, float eps,
                  float* out);

// y[M, N] = x[M, K] . W[N, K]^T (+ bias[N] when bias is not null).
void op_linear_bf16(const KernelTable& kt, const float* x, int M, int K, const uint16_t* W, int N, const float* bias,
                    float* y, const Scratch& scratch);

// In place: x * sigmoid(1.702 x) (the ViT MLP) / the exact erf GELU (the resampler MLPs).
void op_quick_gelu(float* x, int64_t n);
void op_gelu_erf(float* x, int64_t n);

// ViT 2-D RoPE, rotate-half style, in place on rows of x (row stride ld floats, heads * hd used).
// Dimension i < hd/2 of a head pairs with i + hd/2; its angle is pos_h * inv_freq[i] for
// i < hd/4 and pos_w * inv_freq[i - hd/4] above (inv_freq has hd/4 entries).
void op_rope_vision2d(float* x, int rows, int ld, int heads, int hd, const int32_t* pos_h, const int32_t* pos_w,
                      const float* inv_freq);
// inv_freq[j] = 1 / theta^(4j / hd) for j < hd/4 (the rotary table of width hd/2).
void vision_rope_inv_freq(int hd, float theta, float* inv_freq);

// The VL decoder's 3-D RoPE, interleaved pairs (2i, 2i+1) as in op_rope_interleaved. pos3 holds
// (t, h, w) per token. The last t_pairs pairs turn with t; below them even pairs turn with h and odd
// pairs with w. With t == h == w this is exactly op_rope_interleaved.
void op_rope_3d(float* x, int T, int heads, int hd, const int32_t* pos3, int t_pairs, const float* inv_freq);

// Non-causal attention inside segments (one segment = the patches of one image): query rows
// [seg[s], seg[s+1]) attend to all key rows of the same range. q/k/v rows have stride ld floats;
// head h uses columns [h*hd, (h+1)*hd). out is [rows, heads*hd]. Each query walks all keys of its
// segment in tiles of 16 from the first, with the online softmax of op_attention, so its result
// depends on its own segment only (never on other images in the call or the thread split).
struct FullAttentionArgs {
  const float *q, *k, *v;
  int ld;
  int heads, hd;
  const int32_t* seg;  // [n_seg + 1]
  int n_seg;
  float* out;
};
int64_t full_attention_scratch_floats(int hd);
void op_full_attention(const KernelTable& kt, const FullAttentionArgs& a, float* scratch, int64_t scratch_per_thread);

// Cuts one image [C, H, W] into p x p patches in the order the real processor emits them: m x m
// windows in row-major order, the patches of a window row-major inside it, so that m*m consecutive
// patch rows are one merged token (the spatial merge is then a plain reshape). Each row holds
// (c, y, x) in that order: C*p*p floats. pos_h / pos_w get each patch's grid row and column.
void op_patchify(const float* pixels, int C, int H, int W, int p, int m, float* out, int32_t* pos_h, int32_t* pos_w);

// The temporal merge of a still image: its one frame stands for both frames of the pair, so row i
// of out ([n, 2*dim]) is row i of x twice.
void op_duplicate_frame(const float* x, int n, int dim, float* out);

}  // namespace tandem
