#include "kernel_table.h"

#include <cstdlib>
#include <cstring>

namespace tandem {

// A packed panel of up to 8 weight rows plus a block of 64 de-interleaved activation rows, each
// padded to a multiple of 32 elements (the widest block any ISA uses).
int gemm_scratch_floats(int K) { return (8 + 64) * ((K + 31) / 32 * 32) + 64; }

bool bf16_dot_active() {
  static const bool on = [] {
    const char* want = std::getenv("TANDEM_ISA");
    return want && !std::strcmp(want, "avx512bf16") && detect_isa() == Isa::Avx512 && cpu_has_avx512_bf16();
  }();
  return on;
}

const KernelTable& kernels_for(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return bf16_dot_active() ? avx512_bf16dot_kernels() : avx512_kernels();
    case Isa::Avx2: return avx2_kernels();
    default: return scalar_kernels();
  }
}

Isa active_isa() {
  static const Isa isa = select_isa();
  return isa;
}

const KernelTable& active_kernels() { return kernels_for(active_isa()); }

}  // namespace tandem
