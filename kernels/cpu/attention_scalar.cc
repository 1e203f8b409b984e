// The attention tile of attention_kernel.h compiled for Scalar (no ISA flags).
#include "kernels/cpu/attention_kernel.h"
#include "kernels/cpu/vec.h"

namespace ghost::kernels::internal {

void AttendTileScalar(const AttentionDims& dims, const float* q, std::size_t first,
                      const PagedKvBlocks& kv, const TileRange& range, const TileState& state) {
  AttendTile<ScalarVec>(dims, q, first, kv, range, state);
}

}  // namespace ghost::kernels::internal
