// The row AXPYs of row_axpy.h compiled for Avx2 (-mavx2 -mfma -mf16c).
#include "kernels/cpu/row_axpy.h"

namespace ghost::kernels::internal {

void AxpyF32RowsAvx2(const float* w, const std::uint32_t* index, const float* coefs,
                     std::size_t count, std::size_t cols, float* out) {
  AxpyRows(w, index, coefs, count, cols, out);
}

void AxpyBf16RowsAvx2(const std::uint16_t* w, const std::uint32_t* index, const float* coefs,
                      std::size_t count, std::size_t cols, float* out) {
  AxpyRows(w, index, coefs, count, cols, out);
}

}  // namespace ghost::kernels::internal
