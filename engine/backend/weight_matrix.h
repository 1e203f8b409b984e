// A weight matrix in its stored precision and the one place that picks the matrix kernel for
// it, so model code never branches on dtype.
#ifndef GHOST_ENGINE_BACKEND_WEIGHT_MATRIX_H_
#define GHOST_ENGINE_BACKEND_WEIGHT_MATRIX_H_

#include <cstddef>
#include <cstdint>

#include "engine/formats/weight_format.h"

namespace ghost {

// Row-major [rows, cols] (PyTorch nn.Linear layout [out, in]). Does not own its data: float
// for kF32, raw uint16 bits for kBF16 and kF16, and for a block-quantized format a
// kernels::QuantWeights (kernels/cpu/quant_matmul.h).
struct WeightMatrix {
  WeightFormat format = WeightFormat::kF32;
  const void* data = nullptr;
  std::size_t rows = 0;
  std::size_t cols = 0;
};

// y[t, r] = sum_c x[t, c] * w[r, c] for t < n: one pass over the weights for all n rows.
void MatMul(const float* x, std::size_t n, const WeightMatrix& w, float* y);

// MatMul(x, n, *w[i], y[i]) for i < count: matrices that read the same input (a layer's
// q/k/v or gate/up projections). Low-bit matrices of one layout share one quantization of
// x and one thread-pool call, which matters at decode, where a call is a few microseconds.
void MatMulShared(const float* x, std::size_t n, const WeightMatrix* const* w, float* const* y,
                  std::size_t count);

// out[c] = w[row, c] as fp32 (embedding lookup).
void CopyRow(const WeightMatrix& w, std::size_t row, float* out);

}  // namespace ghost

#endif  // GHOST_ENGINE_BACKEND_WEIGHT_MATRIX_H_
