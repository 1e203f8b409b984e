#include "engine/compress/importance.h"

#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace ghost::compress {

absl::StatusOr<std::vector<float>> ColumnSecondMoments(const float* x, std::size_t n,
                                                       std::size_t cols) {
  if (n == 0 || cols == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("calibration activations are empty (", n, "x", cols, ")"));
  }
  std::vector<double> sums(cols, 0.0);
  for (std::size_t t = 0; t < n; ++t) {
    for (std::size_t j = 0; j < cols; ++j) {
      const double value = x[t * cols + j];
      if (!std::isfinite(value)) {
        return absl::InvalidArgumentError(
            absl::StrCat("calibration activation (", t, ", ", j, ") is not finite"));
      }
      sums[j] += value * value;
    }
  }
  std::vector<float> moments(cols);
  for (std::size_t j = 0; j < cols; ++j) moments[j] = static_cast<float>(sums[j] / n);
  return moments;
}

}  // namespace ghost::compress
