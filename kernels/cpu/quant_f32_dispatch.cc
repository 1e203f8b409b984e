// The one place that chooses an fp32-activation low-bit variant (MatMulQuantF32): the
// activations are permuted once per call into the kernels' order, then the rows are split
// over the thread pool as for MatMulQuant.
#include <algorithm>
#include <cstdint>
#include <iterator>
#include <vector>

#include "kernels/cpu/quant_internal.h"
#include "kernels/cpu/quant_matmul.h"

namespace ghost::kernels {
namespace internal {
namespace {

// Indexed by CpuIsa.
constexpr QuantF32RowsFn kF32RowsFns[] = {MatMulQuantF32Scalar, MatMulQuantF32Avx2,
                                          MatMulQuantF32Avx512};
static_assert(std::size(kF32RowsFns) == static_cast<std::size_t>(CpuIsa::kAvx512) + 1);

struct F32Rows {
  QuantF32RowsFn fn;
  const float* x_perm;
  std::size_t n;
};

void RunF32Rows(const void* context, const QuantWeights& w, std::size_t first, std::size_t count,
                float* y) {
  const F32Rows& rows = *static_cast<const F32Rows*>(context);
  rows.fn(w, rows.x_perm, rows.n, first, count, y, w.rows());
}

// x [n, cols] in the order QuantF32RowsFn reads, in the calling thread's scratch (reused
// from call to call). One pass over n * cols values: decoding each row's codes into column
// order instead would cost a shuffle per weight.
const float* PermuteActivations(const float* x, std::size_t n, const QuantWeights& w) {
  thread_local std::vector<float> scratch;
  const std::size_t stride = w.layout().activation_bytes;
  if (scratch.size() < n * stride + 16) scratch.resize(n * stride + 16);
  const auto address = reinterpret_cast<std::uintptr_t>(scratch.data());
  float* values = reinterpret_cast<float*>((address + 63) & ~std::uintptr_t{63});
  std::fill_n(values, n * stride, 0.0f);
  const std::uint32_t* positions = w.activation_positions();
  for (std::size_t t = 0; t < n; ++t) {
    const float* row = x + t * w.cols();
    float* out = values + t * stride;
    for (std::size_t c = 0; c < w.cols(); ++c) out[AxpyPosition(positions[c])] = row[c];
  }
  return values;
}

}  // namespace
}  // namespace internal

void MatMulQuantF32Isa(CpuIsa isa, const float* x, std::size_t n, const QuantWeights& w, float* y) {
  const internal::F32Rows rows{internal::kF32RowsFns[static_cast<int>(isa)],
                               internal::PermuteActivations(x, n, w), n};
  const QuantWeights* const ws[] = {&w};
  float* const ys[] = {y};
  internal::SplitQuantRows(internal::RunF32Rows, &rows, ws, ys, 1);
}

void MatMulQuantF32(const float* x, std::size_t n, const QuantWeights& w, float* y) {
  MatMulQuantF32Isa(DetectedIsa(), x, n, w, y);
}

}  // namespace ghost::kernels
