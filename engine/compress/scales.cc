#include "engine/compress/scales.h"

#include <cstring>

namespace ghost::compress {

const char* ScaleSchemeName(ScaleScheme scheme) {
  switch (scheme) {
    case ScaleScheme::kF16PerBlock:
      return "fp16";
    case ScaleScheme::kTwoLevel:
      return "two-level";
  }
  return "unknown";
}

float TwoLevelBlockScale(float super, unsigned q, int bits) {
  return super * static_cast<float>(q + 1) / static_cast<float>(1u << bits);
}

std::size_t BytesForBits(std::size_t count, int bits) {
  return (count * static_cast<std::size_t>(bits) + 7) / 8;
}

void PackBits(absl::Span<const std::uint8_t> values, int bits, absl::Span<std::uint8_t> out) {
  std::memset(out.data(), 0, BytesForBits(values.size(), bits));
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::size_t first = i * static_cast<std::size_t>(bits);
    // A value spans at most two bytes (bits <= 8).
    const unsigned shifted = static_cast<unsigned>(values[i]) << (first % 8);
    out[first / 8] |= static_cast<std::uint8_t>(shifted);
    if ((first % 8) + bits > 8) out[first / 8 + 1] |= static_cast<std::uint8_t>(shifted >> 8);
  }
}

unsigned ReadBits(absl::Span<const std::uint8_t> packed, std::size_t index, int bits) {
  const std::size_t first = index * static_cast<std::size_t>(bits);
  unsigned window = packed[first / 8];
  if ((first % 8) + bits > 8) window |= static_cast<unsigned>(packed[first / 8 + 1]) << 8;
  return (window >> (first % 8)) & ((1u << bits) - 1);
}

}  // namespace ghost::compress
