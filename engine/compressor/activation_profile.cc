#include "engine/compressor/activation_profile.h"

#include <algorithm>
#include <cmath>

namespace ghost::compress {

ActivationProfile::ActivationProfile(int num_layers, std::size_t max_sampled_rows)
    : max_sampled_rows_(max_sampled_rows), layers_(num_layers) {}

void ActivationProfile::OnLinearInput(int layer, LinearInput input, const float* x, std::size_t n,
                                      std::size_t cols) {
  Layer& l = layers_[layer];
  const auto slot = static_cast<std::size_t>(input);
  std::vector<double>& sums = l.square_sums[slot];
  if (sums.empty()) sums.assign(cols, 0.0);
  for (std::size_t t = 0; t < n; ++t) {
    const float* row = x + t * cols;
    for (std::size_t c = 0; c < cols; ++c) sums[c] += double{row[c]} * row[c];
  }
  l.rows[slot] += static_cast<std::int64_t>(n);
  if (input == LinearInput::kAttention && layer == 0) tokens_ += static_cast<std::int64_t>(n);
}

void ActivationProfile::OnMlp(int layer, const float* silu_gate, const float* up, std::size_t n,
                              std::size_t inner) {
  Layer& l = layers_[layer];
  if (l.max_product.empty()) l.max_product.assign(inner, 0.0f);
  for (std::size_t t = 0; t < n; ++t) {
    const float* g = silu_gate + t * inner;
    const float* u = up + t * inner;
    for (std::size_t j = 0; j < inner; ++j) {
      l.max_product[j] = std::max(l.max_product[j], std::fabs(g[j] * u[j]));
    }
    // Keep rows at multiples of a stride; when the sample is full, drop every other row and
    // double the stride, so the kept rows stay evenly spread over the whole text.
    if (l.seen % l.stride == 0) {
      if (l.sampled.size() >= max_sampled_rows_ * inner) {
        std::vector<float> halved;
        halved.reserve(l.sampled.size() / 2 + inner);
        for (std::size_t r = 0; (r + 1) * inner <= l.sampled.size(); r += 2) {
          halved.insert(halved.end(), l.sampled.begin() + r * inner,
                        l.sampled.begin() + (r + 1) * inner);
        }
        l.sampled.swap(halved);
        l.stride *= 2;
      }
      if (l.seen % l.stride == 0) {
        for (std::size_t j = 0; j < inner; ++j) l.sampled.push_back(std::fabs(g[j]));
      }
    }
    ++l.seen;
  }
}

std::vector<float> ActivationProfile::SecondMoments(int layer, LinearInput input) const {
  const Layer& l = layers_[layer];
  const auto slot = static_cast<std::size_t>(input);
  std::vector<float> moments;
  if (l.rows[slot] == 0) return moments;
  for (double sum : l.square_sums[slot]) {
    moments.push_back(static_cast<float>(sum / static_cast<double>(l.rows[slot])));
  }
  return moments;
}

std::vector<float> ActivationProfile::SampledGateMagnitudes(int layer,
                                                            const std::vector<bool>& keep) const {
  const Layer& l = layers_[layer];
  std::vector<float> values;
  const std::size_t inner = keep.size();
  for (std::size_t r = 0; (r + 1) * inner <= l.sampled.size(); ++r) {
    for (std::size_t j = 0; j < inner; ++j) {
      if (keep[j]) values.push_back(l.sampled[r * inner + j]);
    }
  }
  return values;
}

}  // namespace ghost::compress
