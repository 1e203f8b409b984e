// The attention tile of attention_kernel.h compiled for Avx512 (-mavx512f -mfma), over fp32 and
// bf16 caches.
#include "kernels/cpu/attention_kernel.h"
#include "kernels/cpu/vec_avx512.h"

namespace ghost::kernels::internal {

void AttendTileF32Avx512(const AttentionDims& dims, const float* q, std::size_t first,
                         const PagedKvBlocks& kv, const TileRange& range, const TileState& state) {
  AttendTile<Avx512Vec, F32Rows<Avx512Vec>>(dims, q, first, kv, range, state);
}

void AttendTileBf16Avx512(const AttentionDims& dims, const float* q, std::size_t first,
                          const PagedKvBlocks& kv, const TileRange& range, const TileState& state) {
  AttendTile<Avx512Vec, Bf16Rows<Avx512Vec>>(dims, q, first, kv, range, state);
}

}  // namespace ghost::kernels::internal
