// The element types a KV cache may store keys and values in: the engine's own enum, which each
// backend maps to its kernels' (the CPU one to kernels::KvDtype).
//
// bf16 halves the cache's memory and the bytes attention reads per position (the largest read
// of a long-context decode step) at 8 bits of mantissa; fp32 stores keys and values exactly.
#ifndef GHOST_ENGINE_BACKEND_KV_DTYPE_H_
#define GHOST_ENGINE_BACKEND_KV_DTYPE_H_

#include <cstddef>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ghost {

// fp32, or bf16 (rounded to nearest even when written).
enum class KvDtype { kF32, kBf16 };

// Bytes of one stored element.
constexpr std::size_t KvDtypeBytes(KvDtype dtype) { return dtype == KvDtype::kBf16 ? 2 : 4; }
// "fp32" or "bf16".
const char* KvDtypeName(KvDtype dtype);
// "fp32" or "bf16"; INVALID_ARGUMENT naming the accepted values otherwise.
absl::StatusOr<KvDtype> ParseKvDtype(absl::string_view name);

}  // namespace ghost

#endif  // GHOST_ENGINE_BACKEND_KV_DTYPE_H_
