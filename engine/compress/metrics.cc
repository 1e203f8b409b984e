#include "engine/compress/metrics.h"

#include <cmath>
#include <vector>

namespace ghost::compress {

void ErrorSums::Add(absl::Span<const float> a, absl::Span<const float> b) {
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double x = a[i];
    const double y = b[i];
    dot += x * y;
    norm_a += x * x;
    norm_b += y * y;
    squared_error += (x - y) * (x - y);
  }
  count += a.size();
}

ErrorSums& ErrorSums::operator+=(const ErrorSums& other) {
  dot += other.dot;
  norm_a += other.norm_a;
  norm_b += other.norm_b;
  squared_error += other.squared_error;
  count += other.count;
  return *this;
}

Quality QualityOf(const ErrorSums& sums) {
  Quality quality;
  if (sums.norm_a == 0.0 && sums.norm_b == 0.0) {
    quality.cosine = 1.0;
  } else if (sums.norm_a > 0.0 && sums.norm_b > 0.0) {
    quality.cosine = sums.dot / std::sqrt(sums.norm_a * sums.norm_b);
  }
  if (sums.count > 0) quality.mse = sums.squared_error / static_cast<double>(sums.count);
  if (sums.norm_a > 0.0) quality.relative_error = std::sqrt(sums.squared_error / sums.norm_a);
  return quality;
}

ErrorSums CompareWithOriginal(const float* original, const QuantizedMatrix& q) {
  ErrorSums sums;
  std::vector<float> row(q.cols);
  for (std::size_t r = 0; r < q.rows; ++r) {
    DequantizeRow(q, r, absl::MakeSpan(row));
    sums.Add(absl::MakeConstSpan(original + r * q.cols, q.cols), row);
  }
  return sums;
}

double CompressionRatioVsBf16(const QuantizedMatrix& q) { return 16.0 / q.BitsPerWeight(); }

}  // namespace ghost::compress
