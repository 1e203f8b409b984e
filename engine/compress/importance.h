// Activation-aware importance. A linear layer computes y = W x, so quantization error shows
// up as (W - Q) x. Over calibration inputs,
//   E||(W - Q) x||^2 = sum_i sum_jk d_ij d_ik E[x_j x_k]   (d = W - Q)
//                   ~= sum_ij E[x_j^2] d_ij^2               (dropping cross terms),
// so weight (i, j) matters in proportion to its input channel's second moment E[x_j^2].
// Channels with large activations (LLMs have a few) then get their weights fitted closely.
#ifndef GHOST_ENGINE_COMPRESS_IMPORTANCE_H_
#define GHOST_ENGINE_COMPRESS_IMPORTANCE_H_

#include <cstddef>
#include <vector>

#include "absl/status/statusor.h"

namespace ghost::compress {

// E[x_j^2] over the n rows of calibration activations x [n, cols] (row-major), for
// QuantizeOptions::column_importance. INVALID_ARGUMENT when n or cols is 0 or a value is
// not finite.
[[nodiscard]] absl::StatusOr<std::vector<float>> ColumnSecondMoments(const float* x, std::size_t n,
                                                                     std::size_t cols);

}  // namespace ghost::compress

#endif  // GHOST_ENGINE_COMPRESS_IMPORTANCE_H_
