// The row AXPYs of row_axpy.h compiled for Scalar (no ISA flags).
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/row_axpy.h"

namespace ghost::kernels::internal {
namespace {

// The exact reference conversion (convert.cc), as MatMulF16Scalar uses: this variant is the
// reference and the fallback for CPUs without F16C, not a fast path.
float WidenF16(std::uint16_t v) { return F16ToF32(v); }
using F16Rows = PlainRows<std::uint16_t, WidenF16>;

}  // namespace

void AxpyF32RowsScalar(const float* w, const std::uint32_t* index, const float* coefs,
                       std::size_t count, std::size_t cols, float* out) {
  AxpyRows<F32Rows>(w, index, coefs, count, cols, out);
}

void AxpyBf16RowsScalar(const std::uint16_t* w, const std::uint32_t* index, const float* coefs,
                        std::size_t count, std::size_t cols, float* out) {
  AxpyRows<Bf16Rows>(w, index, coefs, count, cols, out);
}

void AxpyF16RowsScalar(const std::uint16_t* w, const std::uint32_t* index, const float* coefs,
                       std::size_t count, std::size_t cols, float* out) {
  AxpyRows<F16Rows>(w, index, coefs, count, cols, out);
}

}  // namespace ghost::kernels::internal
