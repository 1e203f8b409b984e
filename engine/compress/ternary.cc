#include "engine/compress/ternary.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <utility>

namespace ghost::compress {
namespace {

float ImportanceAt(absl::Span<const float> importance, std::size_t i) {
  return importance.empty() ? 1.0f : importance[i];
}

// Codes sign(w) * [|w| > threshold] and the weighted error they give with `scale`.
template <bool kWeighted>
double CodesForThresholdImpl(absl::Span<const float> w, absl::Span<const float> importance,
                             float threshold, float scale, absl::Span<std::int8_t> codes) {
  double error = 0.0;
  for (std::size_t i = 0; i < w.size(); ++i) {
    const int code = (w[i] > threshold) - (w[i] < -threshold);
    codes[i] = static_cast<std::int8_t>(code);
    const float residual = w[i] - scale * static_cast<float>(code);
    error +=
        static_cast<double>(kWeighted ? importance[i] * residual * residual : residual * residual);
  }
  return error;
}

double CodesForThreshold(absl::Span<const float> w, absl::Span<const float> importance,
                         float threshold, float scale, absl::Span<std::int8_t> codes) {
  return importance.empty() ? CodesForThresholdImpl<false>(w, importance, threshold, scale, codes)
                            : CodesForThresholdImpl<true>(w, importance, threshold, scale, codes);
}

// The scale of the best top-k set of the magnitudes sorted in descending order, with
// importance(k) the importance of the k-th largest.
template <typename ImportanceOf>
float BestTopKScale(const float* sorted, std::size_t n, ImportanceOf importance_of) {
  // Error for the top k is total - (sum a|w|)^2 / sum a: maximise the subtracted gain.
  double sum_a = 0.0;
  double sum_aw = 0.0;
  double best_gain = 0.0;
  float best_scale = 0.0f;
  for (std::size_t k = 0; k < n; ++k) {
    const double a = importance_of(k);
    sum_a += a;
    sum_aw += a * sorted[k];
    if (sum_a <= 0.0) continue;
    const double gain = sum_aw * sum_aw / sum_a;
    if (gain > best_gain) {
      best_gain = gain;
      best_scale = static_cast<float>(sum_aw / sum_a);
    }
  }
  return best_scale;
}

}  // namespace

double TernaryCodesForScale(absl::Span<const float> w, absl::Span<const float> importance,
                            float scale, absl::Span<std::int8_t> codes) {
  return CodesForThreshold(w, importance, 0.5f * scale, scale, codes);
}

TernaryFit FitTernaryExact(absl::Span<const float> w, absl::Span<const float> importance,
                           absl::Span<std::int8_t> codes) {
  const std::size_t n = w.size();
  float best_scale = 0.0f;
  if (importance.empty()) {
    std::array<float, kMaxBlockSize> magnitudes;
    for (std::size_t i = 0; i < n; ++i) magnitudes[i] = std::fabs(w[i]);
    std::sort(magnitudes.begin(), magnitudes.begin() + n, std::greater<float>());
    best_scale = BestTopKScale(magnitudes.data(), n, [](std::size_t) { return 1.0; });
  } else {
    std::array<std::pair<float, float>, kMaxBlockSize> by_magnitude;  // (|w|, a)
    for (std::size_t i = 0; i < n; ++i) by_magnitude[i] = {std::fabs(w[i]), importance[i]};
    std::sort(by_magnitude.begin(), by_magnitude.begin() + n,
              [](const auto& a, const auto& b) { return a.first > b.first; });
    std::array<float, kMaxBlockSize> magnitudes;
    for (std::size_t i = 0; i < n; ++i) magnitudes[i] = by_magnitude[i].first;
    best_scale = BestTopKScale(magnitudes.data(), n,
                               [&](std::size_t k) { return double{by_magnitude[k].second}; });
  }
  // Thresholding at best_scale / 2 reproduces the best top-k set up to ties, which cost
  // nothing, and computes the error in one place.
  return {best_scale, TernaryCodesForScale(w, importance, best_scale, codes)};
}

TernaryFit FitTernaryIterative(absl::Span<const float> w, absl::Span<const float> importance,
                               int rounds, absl::Span<std::int8_t> codes) {
  double sum_a = 0.0;
  double sum_aw = 0.0;
  for (std::size_t i = 0; i < w.size(); ++i) {
    sum_a += ImportanceAt(importance, i);
    sum_aw += ImportanceAt(importance, i) * std::fabs(w[i]);
  }
  float threshold = sum_a > 0.0 ? static_cast<float>(0.7 * sum_aw / sum_a) : 0.0f;
  float used_threshold = threshold;  // The threshold that produced the current codes.
  float scale = 0.0f;
  for (int round = 0; round < rounds; ++round) {
    double kept_a = 0.0;
    double kept_aw = 0.0;
    for (std::size_t i = 0; i < w.size(); ++i) {
      if (std::fabs(w[i]) > threshold) {
        kept_a += ImportanceAt(importance, i);
        kept_aw += ImportanceAt(importance, i) * std::fabs(w[i]);
      }
    }
    used_threshold = threshold;
    scale = kept_a > 0.0 ? static_cast<float>(kept_aw / kept_a) : 0.0f;
    threshold = 0.5f * scale;
  }
  return {scale, CodesForThreshold(w, importance, used_threshold, scale, codes)};
}

}  // namespace ghost::compress
