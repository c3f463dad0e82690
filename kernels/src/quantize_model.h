// Load-time quantization of a text model's linear layers (attention, dense MLP, every routed and
// shared expert, the VL vision experts, optionally the LM head; the embedding table stays bf16,
// it is only read one row per token).
#pragma once
#include <cstdint>
#include <vector>

#include "aligned_buffer.h"
#include "text_model.h"

namespace tandem {

// Owns the quantized bytes and scales the model's Linear entries point into.
struct QuantizedStore {
  std::vector<AlignedBuffer<uint8_t>> data;
  std::vector<AlignedBuffer<float>> scales;
  std::vector<AlignedBuffer<uint8_t>> zeros;
};

// Replaces every bf16 Linear of `w` (already-quantized ones are kept) by its quantized form.
// `rotate`: the MLP down projections get Hadamard-rotated rows (Linear::rotated), for a lower
// activation-quantization error on their spiky input. `head_bits` (0 = `bits`): the LM head's
// bits when they differ; it is then quantized per output channel (wint4 keeps an int8 head: the
// head's error lands on the logits directly, docs/quantization.md "The LM head").
// `zero_points` (4 bits): asymmetric groups with a zero point each (quant.h quantize_weights).
void quantize_linears(TextModelWeights* w, int bits, int group, bool lm_head, QuantizedStore* store, bool rotate = false,
                      int head_bits = 0, bool zero_points = false);

}  // namespace tandem
