// The row AXPYs of row_axpy.h compiled for Avx512 (-mavx512f -mavx512bw -mavx512vl -mfma).
#include "kernels/cpu/row_axpy.h"

namespace ghost::kernels::internal {

void AxpyF32RowsAvx512(const float* w, const std::uint32_t* index, const float* coefs,
                       std::size_t count, std::size_t cols, float* out) {
  AxpyRows(w, index, coefs, count, cols, out);
}

void AxpyBf16RowsAvx512(const std::uint16_t* w, const std::uint32_t* index, const float* coefs,
                        std::size_t count, std::size_t cols, float* out) {
  AxpyRows(w, index, coefs, count, cols, out);
}

}  // namespace ghost::kernels::internal
