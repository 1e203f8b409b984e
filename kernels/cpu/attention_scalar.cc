// The attention tile of attention_kernel.h compiled for Scalar (no ISA flags).
#include "kernels/cpu/attention_kernel.h"
#include "kernels/cpu/vec.h"

namespace ghost::kernels::internal {

void AttendRowsScalar(const AttentionDims& dims, const float* q, std::size_t first,
                      const PagedKvBlocks& kv, std::size_t kv_head, std::size_t row_begin,
                      std::size_t row_end, float* sums, float* out) {
  AttendRows<ScalarVec>(dims, q, first, kv, kv_head, row_begin, row_end, sums, out);
}

}  // namespace ghost::kernels::internal
