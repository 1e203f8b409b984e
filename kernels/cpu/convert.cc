// Scalar float format conversions; bit manipulation only, so no ISA flags are needed.
#include <bit>
#include <cstdint>

#include "kernels/cpu/matmul.h"

namespace ghost::kernels {

float Bf16ToF32(std::uint16_t v) { return std::bit_cast<float>(std::uint32_t{v} << 16); }

std::uint16_t F32ToBf16(float v) {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(v);
  // Truncating a NaN could clear every mantissa bit and turn it into Inf: force it quiet.
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((bits >> 16) | 0x40u);
  // Round to nearest, ties to even: add 0x7fff plus the lowest kept bit.
  const std::uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<std::uint16_t>((bits + rounding) >> 16);
}

float F16ToF32(std::uint16_t v) {
  const std::uint32_t sign = std::uint32_t{v & 0x8000u} << 16;
  int exponent = (v >> 10) & 0x1f;
  std::uint32_t mantissa = v & 0x3ffu;
  if (exponent == 0x1f) {  // Inf or NaN: keep the payload.
    return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  }
  if (exponent == 0) {
    if (mantissa == 0) return std::bit_cast<float>(sign);
    // Subnormal: shift the mantissa up until its leading 1 becomes the implicit bit.
    exponent = 1;  // Goes to 0 or below; the rebias below keeps it a normal fp32.
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --exponent;
    }
    mantissa &= 0x3ffu;
  }
  return std::bit_cast<float>(sign | (std::uint32_t(exponent + 112) << 23) | (mantissa << 13));
}

}  // namespace ghost::kernels
