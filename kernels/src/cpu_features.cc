#include "cpu_features.h"

#include <cstdlib>
#include <cstring>

namespace tandem {

Isa detect_isa() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
    return Isa::Avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::Avx2;
#endif
  return Isa::Scalar;
}

Isa select_isa() {
  Isa best = detect_isa();
  const char* want = std::getenv("TANDEM_ISA");
  if (!want || !*want) return best;
  Isa asked = best;
  if (!std::strcmp(want, "scalar")) asked = Isa::Scalar;
  else if (!std::strcmp(want, "avx2")) asked = Isa::Avx2;
  else if (!std::strcmp(want, "avx512") || !std::strcmp(want, "avx512bf16")) asked = Isa::Avx512;
  return static_cast<int>(asked) < static_cast<int>(best) ? asked : best;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return "avx512";
    case Isa::Avx2: return "avx2";
    default: return "scalar";
  }
}

}  // namespace tandem
