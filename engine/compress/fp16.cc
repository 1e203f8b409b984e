#include "engine/compress/fp16.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace ghost::compress {

std::uint16_t F32ToF16(float value) {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
  const auto sign = static_cast<std::uint16_t>((bits >> 16) & 0x8000u);
  const std::uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude > 0x7f800000u) return sign | 0x7e00u;  // NaN
  // 65520 is the midpoint between 65504 and the next (unrepresentable) step: Inf from here.
  if (magnitude >= 0x477ff000u) return sign | 0x7c00u;
  if (magnitude < 0x38800000u) {
    // Below 2^-14 the result is subnormal: a multiple of 2^-24. Scaling by 2^24 is exact
    // and nearbyint rounds ties to even in the default rounding mode.
    const float units = std::bit_cast<float>(magnitude) * 16777216.0f;
    return sign | static_cast<std::uint16_t>(std::nearbyint(units));
  }
  // Normal: drop 13 mantissa bits with round-to-nearest-even (a carry may bump the
  // exponent, which is still right), then rebias the exponent from 127 to 15.
  const std::uint32_t rounded = magnitude + 0xfffu + ((magnitude >> 13) & 1u);
  return sign | static_cast<std::uint16_t>((rounded >> 13) - ((127u - 15u) << 10));
}

std::uint16_t ScaleToF16(float scale) { return F32ToF16(std::min(scale, 65504.0f)); }

}  // namespace ghost::compress
