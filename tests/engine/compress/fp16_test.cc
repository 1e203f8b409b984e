#include "engine/compress/fp16.h"

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

#include "gtest/gtest.h"
#include "kernels/cpu/matmul.h"

namespace ghost::compress {
namespace {

using kernels::F16ToF32;

bool IsNan(std::uint16_t h) { return (h & 0x7c00u) == 0x7c00u && (h & 0x3ffu) != 0; }

TEST(Fp16Test, EveryHalfRoundTrips) {
  for (std::uint32_t h = 0; h < 0x10000u; ++h) {
    const auto half = static_cast<std::uint16_t>(h);
    if (IsNan(half)) {
      EXPECT_TRUE(IsNan(F32ToF16(F16ToF32(half)))) << h;
    } else {
      EXPECT_EQ(F32ToF16(F16ToF32(half)), half) << h;
    }
  }
}

TEST(Fp16Test, MidpointsRoundToEven) {
  // Between consecutive finite positive halves (normal and subnormal), the midpoint goes to
  // the even mantissa and anything off the midpoint goes to the nearer one.
  for (std::uint16_t h = 0; h < 0x7bffu; ++h) {
    const float low = F16ToF32(h);
    const float high = F16ToF32(static_cast<std::uint16_t>(h + 1));
    const float mid = 0.5f * (low + high);  // Exact in fp32.
    EXPECT_EQ(F32ToF16(mid), (h & 1u) == 0 ? h : h + 1) << h;
    EXPECT_EQ(F32ToF16(std::nextafter(mid, 0.0f)), h) << h;
    EXPECT_EQ(F32ToF16(std::nextafter(mid, 1e9f)), h + 1) << h;
    EXPECT_EQ(F32ToF16(-mid), 0x8000u | F32ToF16(mid)) << h;
  }
}

TEST(Fp16Test, OverflowUnderflowAndSpecials) {
  EXPECT_EQ(F32ToF16(65504.0f), 0x7bffu);
  EXPECT_EQ(F32ToF16(65519.0f), 0x7bffu);
  EXPECT_EQ(F32ToF16(65520.0f), 0x7c00u);
  EXPECT_EQ(F32ToF16(1e30f), 0x7c00u);
  EXPECT_EQ(F32ToF16(-std::numeric_limits<float>::infinity()), 0xfc00u);
  EXPECT_TRUE(IsNan(F32ToF16(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_EQ(F32ToF16(1e-9f), 0u);  // Below half the smallest subnormal.
  EXPECT_EQ(F32ToF16(4e-8f), 1u);  // Above it: the smallest subnormal.
  EXPECT_EQ(F32ToF16(-0.0f), 0x8000u);
  EXPECT_EQ(ScaleToF16(1e9f), 0x7bffu);  // Scales saturate instead of becoming Inf.
}

}  // namespace
}  // namespace ghost::compress
