// The attention tile of attention_kernel.h compiled for Avx512 (-mavx512f -mfma).
#include "kernels/cpu/attention_kernel.h"
#include "kernels/cpu/vec_avx512.h"

namespace ghost::kernels::internal {

void AttendRowsAvx512(const AttentionDims& dims, const float* q, std::size_t first,
                      const PagedKvBlocks& kv, std::size_t kv_head, std::size_t row_begin,
                      std::size_t row_end, float* sums, float* out) {
  AttendRows<Avx512Vec>(dims, q, first, kv, kv_head, row_begin, row_end, sums, out);
}

}  // namespace ghost::kernels::internal
