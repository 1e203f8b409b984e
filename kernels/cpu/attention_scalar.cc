// The attention tile of attention_kernel.h compiled for Scalar (no ISA flags), over fp32 and
// bf16 caches.
#include "kernels/cpu/attention_kernel.h"
#include "kernels/cpu/vec.h"

namespace ghost::kernels::internal {

void AttendTileF32Scalar(const AttentionDims& dims, const float* q, std::size_t first,
                         const PagedKvBlocks& kv, const TileRange& range, const TileState& state) {
  AttendTile<ScalarVec, F32Rows<ScalarVec>>(dims, q, first, kv, range, state);
}

void AttendTileBf16Scalar(const AttentionDims& dims, const float* q, std::size_t first,
                          const PagedKvBlocks& kv, const TileRange& range, const TileState& state) {
  AttendTile<ScalarVec, Bf16Rows<ScalarVec>>(dims, q, first, kv, range, state);
}

}  // namespace ghost::kernels::internal
