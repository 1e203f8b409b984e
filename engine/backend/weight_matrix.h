// Handles to a model's weights as the forward passes them to a Backend: a matrix in its stored
// precision, a vector of fp32 values. The backend that made them is the one place that picks a
// kernel for them, so model code never branches on dtype. They point into a weight unit's bytes
// (weight_unit.h); the forward never reads through them.
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

// `size` fp32 values (a norm's weights, a bias). Does not own its data.
struct WeightVector {
  const float* data = nullptr;
  std::size_t size = 0;
};

}  // namespace ghost

#endif  // GHOST_ENGINE_BACKEND_WEIGHT_MATRIX_H_
