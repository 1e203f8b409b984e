#include "engine/model/rope.h"

#include <cmath>
#include <numbers>

namespace ghost {
namespace {

// Llama 3.1's frequency-dependent scaling: wavelengths longer than the original context /
// low_freq_factor are interpolated by `factor`, those shorter than original context /
// high_freq_factor are kept, and the band between blends the two linearly in
// original_context / wavelength.
double Llama3Scaled(double inv_freq, const RopeScaling& s) {
  const double context = s.original_max_position_embeddings;
  const double wavelength = 2.0 * std::numbers::pi / inv_freq;
  const double low_freq_wavelength = context / s.low_freq_factor;
  const double high_freq_wavelength = context / s.high_freq_factor;
  if (wavelength < high_freq_wavelength) return inv_freq;
  if (wavelength > low_freq_wavelength) return inv_freq / s.factor;
  const double smooth =
      (context / wavelength - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
  return (1.0 - smooth) * inv_freq / s.factor + smooth * inv_freq;
}

}  // namespace

std::vector<double> RopeInverseFrequencies(int head_dim, double theta, const RopeScaling& scaling) {
  std::vector<double> inv_freq(head_dim / 2);
  for (int i = 0; i < head_dim / 2; ++i) {
    const double base = std::pow(theta, -2.0 * i / head_dim);
    switch (scaling.type) {
      case RopeScaling::Type::kNone:
        inv_freq[i] = base;
        break;
      case RopeScaling::Type::kLinear:
        inv_freq[i] = base / scaling.factor;  // the same angles as position / factor
        break;
      case RopeScaling::Type::kLlama3:
        inv_freq[i] = Llama3Scaled(base, scaling);
        break;
    }
  }
  return inv_freq;
}

}  // namespace ghost
