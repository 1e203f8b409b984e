// The attention tile of attention_kernel.h compiled for Avx2 (-mavx2 -mfma), over fp32 and
// bf16 caches.
#include "kernels/cpu/attention_kernel.h"
#include "kernels/cpu/vec_avx2.h"

namespace ghost::kernels::internal {

void AttendTileF32Avx2(const AttentionDims& dims, const float* q, std::size_t first,
                       const PagedKvBlocks& kv, const TileRange& range, const TileState& state) {
  AttendTile<Avx2Vec, F32Rows<Avx2Vec>>(dims, q, first, kv, range, state);
}

void AttendTileBf16Avx2(const AttentionDims& dims, const float* q, std::size_t first,
                        const PagedKvBlocks& kv, const TileRange& range, const TileState& state) {
  AttendTile<Avx2Vec, Bf16Rows<Avx2Vec>>(dims, q, first, kv, range, state);
}

}  // namespace ghost::kernels::internal
