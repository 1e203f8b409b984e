// The reference every other variant is tested against: plain loops, fp32 accumulation.
// Four partial sums break the add dependency chain so that it is merely slow, not
// pathologically slow, and keep the summation error close to the SIMD variants'.
#include <bit>

#include "kernels/cpu/matmul.h"
#include "kernels/cpu/matmul_internal.h"

namespace ghost::kernels::internal {
namespace {

template <typename Weight, typename ToFloat>
void MatMulScalar(const float* x, std::size_t n, const Weight* w, std::size_t rows,
                  std::size_t cols, float* y, std::size_t ldy, ToFloat to_float) {
  for (std::size_t t = 0; t < n; ++t) {
    const float* xt = x + t * cols;
    for (std::size_t r = 0; r < rows; ++r) {
      const Weight* wr = w + r * cols;
      float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
      std::size_t c = 0;
      for (; c + 4 <= cols; c += 4) {
        for (int j = 0; j < 4; ++j) acc[j] += xt[c + j] * to_float(wr[c + j]);
      }
      for (; c < cols; ++c) acc[0] += xt[c] * to_float(wr[c]);
      y[t * ldy + r] = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    }
  }
}

}  // namespace

void MatMulF32Scalar(const float* x, std::size_t n, const float* w, std::size_t rows,
                     std::size_t cols, float* y, std::size_t ldy) {
  MatMulScalar(x, n, w, rows, cols, y, ldy, [](float v) { return v; });
}

void MatMulBf16Scalar(const float* x, std::size_t n, const std::uint16_t* w, std::size_t rows,
                      std::size_t cols, float* y, std::size_t ldy) {
  // A lambda, not Bf16ToF32 itself: a function pointer to another file would not be inlined.
  MatMulScalar(x, n, w, rows, cols, y, ldy,
               [](std::uint16_t v) { return std::bit_cast<float>(std::uint32_t{v} << 16); });
}

void MatMulF16Scalar(const float* x, std::size_t n, const std::uint16_t* w, std::size_t rows,
                     std::size_t cols, float* y, std::size_t ldy) {
  // The reference conversion (convert.cc), not inlined: this variant is the reference and the
  // fallback for CPUs without F16C, not a fast path.
  MatMulScalar(x, n, w, rows, cols, y, ldy, [](std::uint16_t v) { return F16ToF32(v); });
}

}  // namespace ghost::kernels::internal
