// One row per layer per new position: a few thousand values per token, so a plain loop (which
// GCC vectorizes, having no branch) is all the conversion needs.
#include "kernels/cpu/kv_dtype.h"

#include <bit>
#include <cstdint>
#include <cstring>

namespace ghost::kernels {

const char* KvDtypeName(KvDtype dtype) { return dtype == KvDtype::kBf16 ? "bf16" : "fp32"; }

void StoreKvRow(KvDtype dtype, const float* row, std::size_t n, void* out) {
  if (dtype == KvDtype::kF32) {
    std::memcpy(out, row, n * sizeof(float));
    return;
  }
  auto* bf16 = static_cast<std::uint16_t*>(out);
  for (std::size_t i = 0; i < n; ++i) {
    // As F32ToBf16 (matmul.h), written as a select: round to nearest, ties to even, by adding
    // 0x7fff plus the lowest kept bit; a NaN is made quiet so that truncation cannot turn it
    // into an infinity.
    const std::uint32_t bits = std::bit_cast<std::uint32_t>(row[i]);
    const bool nan = (bits & 0x7fffffffu) > 0x7f800000u;
    const std::uint32_t rounded = (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;
    bf16[i] = static_cast<std::uint16_t>(nan ? (bits >> 16) | 0x40u : rounded);
  }
}

}  // namespace ghost::kernels
