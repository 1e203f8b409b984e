// Fidelity of a quantized matrix against the original weights.
#ifndef GHOST_ENGINE_COMPRESS_METRICS_H_
#define GHOST_ENGINE_COMPRESS_METRICS_H_

#include <cstddef>

#include "absl/types/span.h"
#include "engine/compress/quantized_matrix.h"

namespace ghost::compress {

// Sums over pairs (a_i, b_i), accumulated in double. Several spans (rows, matrices) can be
// added into one accumulator, so a metric can cover a whole model.
struct ErrorSums {
  double dot = 0.0;            // sum a b
  double norm_a = 0.0;         // sum a^2
  double norm_b = 0.0;         // sum b^2
  double squared_error = 0.0;  // sum (a - b)^2
  std::size_t count = 0;

  void Add(absl::Span<const float> a, absl::Span<const float> b);  // same sizes
  ErrorSums& operator+=(const ErrorSums& other);
};

struct Quality {
  double cosine = 0.0;          // dot / (|a| |b|); 1 when both are all zero
  double mse = 0.0;             // squared_error / count
  double relative_error = 0.0;  // |a - b| / |a|
};

Quality QualityOf(const ErrorSums& sums);

// The original against Dequantize(q), row by row (no full-size copy); original is
// row-major [q.rows, q.cols]. Requires q.Validate().ok().
[[nodiscard]] ErrorSums CompareWithOriginal(const float* original, const QuantizedMatrix& q);

// 16 / bits per weight: how many times smaller than the same matrix in bf16.
double CompressionRatioVsBf16(const QuantizedMatrix& q);

}  // namespace ghost::compress

#endif  // GHOST_ENGINE_COMPRESS_METRICS_H_
