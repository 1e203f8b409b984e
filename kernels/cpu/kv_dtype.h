// The element types a KV cache row may be stored in, and the conversion that writes one.
// Plain C++: no absl, no engine types.
//
// bf16 halves the cache's memory and the bytes attention reads per position (the largest read
// of a long-context decode step) at 8 bits of mantissa; fp32 stores keys and values exactly.
#ifndef GHOST_KERNELS_CPU_KV_DTYPE_H_
#define GHOST_KERNELS_CPU_KV_DTYPE_H_

#include <cstddef>

namespace ghost::kernels {

enum class KvDtype { kF32 = 0, kBf16 = 1 };

// Bytes of one stored element.
constexpr std::size_t KvDtypeBytes(KvDtype dtype) { return dtype == KvDtype::kBf16 ? 2 : 4; }
// "fp32" or "bf16".
const char* KvDtypeName(KvDtype dtype);

// Stores the n fp32 values of `row` at `out` as `dtype` elements: copied for fp32, rounded to
// the nearest bf16 (ties to even, NaN kept a NaN) for bf16.
void StoreKvRow(KvDtype dtype, const float* row, std::size_t n, void* out);

}  // namespace ghost::kernels

#endif  // GHOST_KERNELS_CPU_KV_DTYPE_H_
