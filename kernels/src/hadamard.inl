// The normalized 128-point Hadamard rotation (Sylvester order) of quant.h, as an inline body
// compiled into each quantized-kernel translation unit under that unit's target flags, so the
// compiler vectorizes it for the ISA. Every element sees the same additions, subtractions and
// the final multiply in the same order whatever the vector width (no reassociation, no FMA:
// -ffp-contract=off), so every table gives the same bits as the scalar one.
#pragma once
#include <cmath>

namespace tandem {
namespace hadamard_detail {

// static: each translation unit keeps its own copy, compiled for its own target (no ODR merge).
static inline void rotate(float* x, int n) {
  constexpr int B = 128;
  const float norm = 1.0f / std::sqrt(static_cast<float>(B));
  for (int b = 0; b < n; b += B) {
    float* v = x + b;
    for (int len = 1; len < B; len <<= 1) {
      for (int i = 0; i < B; i += 2 * len) {
        for (int j = i; j < i + len; ++j) {
          const float a = v[j], c = v[j + len];
          v[j] = a + c;
          v[j + len] = a - c;
        }
      }
    }
    for (int i = 0; i < B; ++i) v[i] *= norm;
  }
}

}  // namespace hadamard_detail
}  // namespace tandem
