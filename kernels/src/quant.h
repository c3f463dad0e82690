// Weight-only quantization (wint8 / wint4) and the integer dot-product kernels that consume it.
//
// Weight format (the same on every ISA, and the layout of pre-quantized checkpoints):
//  - a row of K weights is cut into groups of G elements; the row is zero-padded to whole groups
//    and whole 128-element blocks (Kp = ceil(K / G) * G for G a multiple of 128, ceil(K / 128) * 128
//    for G = 32 or 64). G >= 128: G consecutive elements. G = 32 / 64 (wint4 only): a block's
//    group j is the bytes [j * G/2, (j + 1) * G/2) of its 64 code bytes, i.e. the elements i and
//    i + 64 for i in that range (both nibbles of a byte share a group). The integer lanes of every
//    ISA's dot product then cover whole groups (quant_simd.inl), so smaller groups cost no extra
//    convert per group (`group_of`);
//  - each group has one fp32 scale s; a weight is q * s with q an integer:
//      wint8: q in [-127, 127], stored as the byte q + 128;
//      wint4: q in [-8, 7], stored as the nibble q + 8; or, with zero points (Linear::zeros),
//             the nibble u in [0, 15] and a weight (u - z) * s with one z in [0, 15] per group.
//             Bytes come in blocks of 64 covering 128 elements: byte i of a block holds element
//             i in its low nibble and element i + 64 in its high nibble (one 64-byte load gives
//             two vectors in element order);
//  - data is row-major [N, Kp] bytes (wint8) or [N, Kp / 2] bytes (wint4); scales are [N, Kp / G];
//  - except in **panels** (`uses_panels`: wint4, groups of 32, zero points, the default wint4):
//    every whole panel of kPanel = 16 consecutive rows is stored transposed in 4-byte words, so
//    word w of the panel's row c is at word index w * 16 + c of the panel (whose bytes are where
//    its 16 rows would be); its scales and zero points likewise, entry g of row c at g * 16 + c.
//    Word w = 4g + v holds codes of group g only: low nibbles of elements 16j + 4v .. + 3 of the
//    group's block (j = g % 4), high nibbles of those + 64. So one 64-byte load is 16 rows x 4
//    consecutive elements, the operand of a dot-product instruction that puts one output per lane
//    (the activations broadcast 4 bytes at a time). Rows after the last whole panel (N % 16 of them)
//    stay row-major.
//
// Activations are quantized per row (per token) on the fly: xq = round(x * 127 / amax) in
// [-127, 127] with one scale xs = amax / 127 for the row. A group's dot product is an exact int32
// sum, and
//   y[m, n] = xs[m] * sum_g ws[n, g] * float(isum_g).
// One activation scale per row (rather than per group) keeps the per-group work to a convert and
// a multiply-add, which is what lets prefill approach the dot-product instruction's peak.
// The integer part is exact on every ISA; only the fp32 accumulation order is the ISA's own (lane
// by lane, then a fixed reduction), and it never depends on the batch, the tile or the threads.
// Panel-format matrices (wint4, groups of 32, zero points) have one fp32 order on every ISA:
//   acc = 0; for g ascending: acc = fma(float(isum_g), ws[n, g], acc);  y[m, n] = acc * xs[m]
// with isum_g = sum over the group of xq * (u - z), exact: the same bits on scalar, AVX2 and
// AVX-512 (each output is one lane, so there is no cross-lane reduction to order).
#pragma once
#include <cstdint>

#include "cpu_features.h"

namespace tandem {

constexpr int kPanel = 16;  // rows per panel (uses_panels)

// Whether W is stored in panels (see the format above): wint4 with zero points in groups of 32.
inline bool uses_panels(int bits, int group, bool zero_points) { return bits == 4 && group == 32 && zero_points; }

// One linear layer's weights [rows = N outputs, cols = K inputs], bf16 or quantized.
struct Linear {
  int bits = 16;                      // 16 (bf16), 8 or 4
  int rows = 0, cols = 0;
  const uint16_t* bf16 = nullptr;     // bits == 16: [rows, cols]
  const uint8_t* q = nullptr;         // bits 8 / 4: see the format above
  const float* scales = nullptr;      // [rows, padded_cols / group]
  int group = 0;
  // Quantized with each row's blocks of kRotationBlock rotated by the normalized Hadamard matrix
  // (`hadamard_rotate`): activations are then rotated the same way before they are quantized.
  // H is orthogonal and symmetric, so W x = (W H)(H x) exactly; what changes is the quantization
  // error: a few large values (outliers) spread over their block, so one int8 scale per token
  // resolves the typical values far better (docs/quantization.md, "Rotation").
  bool rotated = false;
  // wint4 only, optional: one zero point z in [0, 15] per group ([rows, groups] bytes); a weight is
  // then (u - z) * s with u the stored nibble in [0, 15] (asymmetric). Without: z = 8 (u = q + 8).
  const uint8_t* zeros = nullptr;
  int padded_cols() const {
    if (!group) return cols;
    const int unit = group < 128 ? 128 : group;  // groups below a block still pad to whole blocks
    return (cols + unit - 1) / unit * unit;
  }
  int64_t row_bytes() const { return bits == 4 ? padded_cols() / 2 : bits == 8 ? padded_cols() : 2LL * cols; }
  int groups() const { return group ? padded_cols() / group : 0; }
  bool panels() const { return uses_panels(bits, group, zeros != nullptr); }
  // Rows stored in whole panels (the rest, rows % kPanel, are row-major).
  int panel_rows() const { return panels() ? rows / kPanel * kPanel : 0; }
};

constexpr int kQuantBlock = 128;  // G must be a multiple of this (one int4 block of 64 bytes)
constexpr int kRotationBlock = 128;  // padded rows are a multiple of kQuantBlock, so of this too

// Where panel p of a panel-format W starts: its codes (kPanelGroupBytes per group), its scales and
// zero points (kPanel per group).
struct PanelView {
  const uint8_t* q;
  const float* s;
  const uint8_t* z;
};
constexpr int kPanelGroupBytes = kPanel * 16;  // a group of 32: 16 code bytes per row
inline PanelView panel_view(const Linear& W, int64_t p) {
  const int64_t row = p * kPanel;
  const int ng = W.groups();
  return {W.q + row * W.row_bytes(), W.scales + row * ng, W.zeros + row * ng};
}
// The first element of group g of 32 (its low-nibble half; the high half is 64 further).
inline int group32_start(int g) { return g / 4 * kQuantBlock + g % 4 * 16; }

// The group (index into a row's scales) of element k of a row, for group size G (see the format).
inline int group_of(int k, int G) {
  if (G >= kQuantBlock) return k / G;
  return k / kQuantBlock * (kQuantBlock / G) + (k % (kQuantBlock / 2)) / (G / 2);
}

// Calls f(g, k) for every element k of a row of Kp elements with its group g = group_of(k, G),
// group by group (g ascending) and within a group in ascending k, with no division per element.
template <class F>
inline void for_each_group_element(int Kp, int G, F&& f) {
  if (G >= kQuantBlock) {
    for (int g = 0, k0 = 0; k0 < Kp; ++g, k0 += G)
      for (int k = k0; k < k0 + G; ++k) f(g, k);
    return;
  }
  const int half = G / 2, per_block = kQuantBlock / G;
  for (int b = 0, g = 0; b < Kp; b += kQuantBlock)
    for (int j = 0; j < per_block; ++j, ++g) {
      for (int i = j * half; i < (j + 1) * half; ++i) f(g, b + i);
      for (int i = j * half; i < (j + 1) * half; ++i) f(g, b + kQuantBlock / 2 + i);
    }
}

// Whether (bits, group) is a format the kernels take: group 0 (one scale per row) or a positive
// multiple of 128 for both widths; 32 and 64 for wint4.
inline bool valid_group(int bits, int group) {
  if (group == 0 || (group > 0 && group % kQuantBlock == 0)) return true;
  return bits == 4 && (group == 32 || group == 64);
}

// In place: every block of kRotationBlock values of x[0, n) times the normalized Hadamard matrix
// (Sylvester order; a fast Walsh-Hadamard transform, then 1/sqrt(128)). Plain C++, the same
// operations in the same order on every ISA. n must be a multiple of kRotationBlock.
void hadamard_rotate(float* x, int n);

// Group 0 asks for one scale per row (per output channel): the whole padded row is one group.
inline int resolve_group(int group, int cols) {
  return group > 0 ? group : (cols + kQuantBlock - 1) / kQuantBlock * kQuantBlock;
}

// Quantized activation rows: xq [M, Kp], xs [M] (one scale per row), xsum [M, Kp / G] (the sum of
// each group's xq, for kernels that take the offset weights as the unsigned operand).
struct QuantActs {
  int8_t* q = nullptr;
  float* s = nullptr;
  int32_t* sum = nullptr;
  int kp = 0, groups = 0;
};

struct QuantKernels {
  const char* name;
  // One activation row of K floats into xq[Kp], *xs, xsum[Kp/G] (padding quantizes to 0).
  void (*quantize_row)(const float* x, int K, int G, int Kp, int8_t* xq, float* xs, int32_t* xsum);
  // y[m*ldy + (n - n0)] for m < M, n0 <= n < n1, from quantized activations and weights.
  void (*gemm_q8)(const QuantActs& a, int M, const Linear& W, int n0, int n1, float* y, int ldy);
  void (*gemm_q4)(const QuantActs& a, int M, const Linear& W, int n0, int n1, float* y, int ldy);
  // hadamard_rotate compiled for this table's ISA (the same bits as the scalar one).
  void (*rotate)(float* x, int n);
  // Benchmark probe: integer multiply-accumulates per second of the instruction these kernels use.
  double (*int8_mac_loop)(int64_t iters, int32_t* sink);
};

// Outputs n0 <= n < n1 of a panel-format W (uses_panels) in the one fp32 order of the format, one
// output at a time: the scalar table's kernel, and the SIMD tables' for rows outside whole panels.
void gemm_q4_panels_scalar(const QuantActs& a, int M, const Linear& W, int n0, int n1, float* y, int ldy);

// In place: rows [0, rows / kPanel * kPanel) of row-major wint4 codes, scales and zero points
// (groups of 32) into panels (the format above). Deterministic; parallel over panels.
void to_panels(int rows, int64_t row_bytes, int groups, uint8_t* q, float* scales, uint8_t* zeros);

const QuantKernels& quant_scalar_kernels();
const QuantKernels& quant_avx2_kernels();
// AVX-512 with VNNI (vpdpbusd); on AVX-512 CPUs without VNNI this is the AVX2 table.
const QuantKernels& quant_avx512_kernels();
const QuantKernels& quant_kernels_for(Isa isa);
// Whether the AVX-512 table really uses VNNI on this CPU.
bool cpu_has_avx512_vnni();

// The activation quantizer in plain C++: the scalar table's quantize_row; AVX2's and AVX-512's
// (quant_avx2.cc, quant_avx512.cc) do the same operations 8 / 16 at a time, so every table's rows
// are bit-identical.
void quantize_act_row(const float* x, int K, int G, int Kp, int8_t* xq, float* xs, int32_t* xsum);

// Quantizes bf16 weights [rows, cols] into `q` (rows * row_bytes) and `scales` (rows * groups),
// parallel over rows on the kernel pool. Deterministic: the same input always gives the same bytes.
// `rotate`: each padded row's blocks are rotated (hadamard_rotate) before they are quantized.
// `zeros` (wint4 only; rows * groups bytes): asymmetric groups with a zero point each, the range
// [min, max] of a group (widened to include 0) shrunk by the factor of kClipSearch with the least
// squared error of the group's dequantized weights (docs/quantization.md, "wint4").
void quantize_weights(const uint16_t* w, int rows, int cols, int bits, int group, uint8_t* q, float* scales, bool rotate = false,
                      uint8_t* zeros = nullptr);

// The range factors the asymmetric wint4 quantizer tries per group (1 = the group's own range).
constexpr float kClipSearch[] = {1.0f, 0.95f, 0.9f, 0.85f, 0.8f, 0.75f, 0.7f};

}  // namespace tandem
