// The scalar reference of the fp32-activation low-bit kernels: each row decoded to fp32 in
// column order by DequantizeQuantRow (scale times the ternary value or the exact codebook
// entry), then one fp32 dot product per token, in column order.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/cpu/quant_internal.h"

namespace ghost::kernels::internal {

void MatMulQuantF32Scalar(const QuantWeights& w, const float* x_perm, std::size_t n,
                          std::size_t first, std::size_t count, float* y, std::size_t ldy) {
  thread_local std::vector<float> row_values;
  row_values.resize(w.cols());
  const std::uint32_t* positions = w.activation_positions();
  for (std::size_t i = 0; i < count; ++i) {
    DequantizeQuantRow(w, first + i, row_values.data());
    for (std::size_t t = 0; t < n; ++t) {
      const float* x = x_perm + t * w.layout().activation_bytes;
      float sum = 0;
      for (std::size_t c = 0; c < w.cols(); ++c) {
        sum += row_values[c] * x[AxpyPosition(positions[c])];
      }
      y[t * ldy + i] = sum;
    }
  }
}

}  // namespace ghost::kernels::internal
