// Model-level operations built on a KernelTable and parallelized on the addon's thread pool.
// Each takes raw pointers and shapes and allocates nothing: callers pass preallocated buffers.
#pragma once
#include <cstdint>
#include <vector>

#include "kernel_table.h"
#include "aligned_buffer.h"
#include "kv_cache.h"
#include "quant.h"

namespace tandem {

// Per-thread scratch for the ops below (GEMM weight panels, attention scores).
struct Scratch {
  float* base = nullptr;
  int64_t per_thread = 0;  // floats
  float* of(int tid) const { return base + per_thread * tid; }
};
// Floats each thread needs for GEMMs with K up to max_k and attention with the given head shape.
int64_t scratch_floats_per_thread(int max_k, int head_dim, int group);

// out[t, :] = fp32(table[ids[t], :])
void op_embedding(const KernelTable& kt, const uint16_t* table, const int32_t* ids, int T, int H, float* out);

// out[r, :] = x[r, :] / sqrt(mean(x[r]^2) + eps) * w
void op_rmsnorm(const KernelTable& kt, const float* x, int rows, int cols, const float* w, float eps, float* out);

// y[M, N] = x[M, K] . W[N, K]^T, split over N across threads.
void op_gemm_bf16(const KernelTable& kt, const float* x, int M, int K, const uint16_t* W, int N, float* y,
                  const Scratch& scratch);
// Room for quantized activation rows; grows on first use to the largest call, then stays.
struct QuantActsBuf {
  AlignedBuffer<int8_t> q;
  AlignedBuffer<float> s;
  AlignedBuffer<int32_t> sum;
};
// y[M, N] = x[M, K] . W[N, K]^T for bf16 or quantized W (N = W.rows, K = W.cols). Quantized
// weights take activations quantized per row (QuantKernels::quantize_row) first.
void op_linear(const KernelTable& kt, const QuantKernels& qk, const float* x, int M, const Linear& W, float* y,
               const Scratch& scratch, QuantActsBuf& qa);
// Up to kMaxFusedLinears linear layers of the same input (attention's q, k, v; an MLP's gate and
// up): one activation quantization and one parallel region when all are quantized alike, results
// equal to one op_linear call each.
struct LinearOut {
  const Linear* w;
  float* y;
};
constexpr int kMaxFusedLinears = 4;
void op_linears(const KernelTable& kt, const QuantKernels& qk, const float* x, int M, const LinearOut* outs, int n, const Scratch& scratch,
                QuantActsBuf& qa);
void op_gemm_f32(const KernelTable& kt, const float* x, int M, int K, const float* W, int N, float* y);

// Interleaved RoPE in place on x[T, heads * head_dim]: pair (2i, 2i+1) rotated by
// angle = fp32(pos * inv_freq[i]).
void op_rope_interleaved(float* x, int T, int heads, int head_dim, const int32_t* positions, const float* inv_freq);
void rope_inv_freq(int head_dim, float theta, float* inv_freq);

// Writes K and V rows ([T, kv_heads * head_dim]) into the cache slots, rounding to the cache dtype.
void op_kv_store(const float* k, const float* v, int T, const int64_t* slots, const KvLayout& kv, int layer);

// Paged causal attention. Token t (sequence tok_seq[t], position positions[t]) attends to positions
// 0..positions[t] of its sequence, read from the cache through its block table row. Each query
// walks its context in tiles of 16 positions with an online softmax; tiles start at position 0
// for every query, so a query's result does not depend on what else is in the batch.
struct AttentionArgs {
  const float* q;  // [T, heads * head_dim]
  int T, heads, kv_heads, head_dim;
  const int32_t* positions;  // ascending within each sequence's tokens
  const int32_t* tok_seq;
  const int32_t* block_tables;  // [S, bt_stride]
  int bt_stride;
  const int32_t* chunk_start;  // [n_chunks + 1], from build_attention_chunks
  int n_chunks;
  float* out;  // [T, heads * head_dim]
};
// Groups consecutive tokens of one sequence into chunks of at most kAttentionChunk (queries of a
// chunk share each key tile they load). chunk_start needs T + 1 entries; returns the chunk count.
constexpr int kAttentionChunk = 16;
int build_attention_chunks(const int32_t* tok_seq, int T, int32_t* chunk_start);
void op_attention(const KernelTable& kt, const AttentionArgs& a, const KvLayout& kv, int layer, const Scratch& scratch);

// out[i] = silu(g[i]) * u[i]
void op_silu_mul(const float* g, const float* u, int64_t n, float* out);
// x[i] += y[i]
void op_add_inplace(float* x, const float* y, int64_t n);

// MoE router on fp32 logits [T, E]: softmax, top-k by prob + bias (ties -> lower index), weights
// are the chosen uncorrected probabilities over max(sum, norm_min).
void op_moe_route(const float* logits, int T, int E, const float* bias, int k, float norm_min, int32_t* sel,
                  float* weights);

}  // namespace tandem
