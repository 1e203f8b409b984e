#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cpu/kv_dtype.h"
#include "kernels/cpu/matmul.h"

namespace ghost::kernels {
namespace {

float FromBits(std::uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

TEST(Bf16Test, RoundsToNearestEven) {
  EXPECT_EQ(F32ToBf16(1.0f), 0x3f80);
  EXPECT_EQ(F32ToBf16(FromBits(0x3f808000)), 0x3f80);  // Tie, kept bit even: down.
  EXPECT_EQ(F32ToBf16(FromBits(0x3f818000)), 0x3f82);  // Tie, kept bit odd: up.
  EXPECT_EQ(F32ToBf16(FromBits(0x3f808001)), 0x3f81);  // Above the tie: up.
  EXPECT_EQ(F32ToBf16(FromBits(0x3f807fff)), 0x3f80);  // Below the tie: down.
  EXPECT_EQ(F32ToBf16(FromBits(0xbf818000)), 0xbf82);  // Negative ties alike.
  EXPECT_EQ(F32ToBf16(FromBits(0x7f7fffff)), 0x7f80);  // Rounds past the largest to Inf.
  EXPECT_EQ(F32ToBf16(std::numeric_limits<float>::infinity()), 0x7f80);
  EXPECT_EQ(F32ToBf16(-0.0f), 0x8000);
  EXPECT_EQ(F32ToBf16(FromBits(0x00000001)), 0x0000);  // Smallest subnormal rounds to 0.
}

TEST(Bf16Test, NaNStaysNaN) {
  // A NaN whose payload sits only in the dropped bits must not become Inf.
  for (std::uint32_t bits : {0x7f800001u, 0xff800001u, 0x7fc00000u, 0x7fffffffu}) {
    EXPECT_TRUE(std::isnan(Bf16ToF32(F32ToBf16(FromBits(bits))))) << std::hex << bits;
  }
}

TEST(Bf16Test, RoundTripsEveryValue) {
  for (std::uint32_t v = 0; v <= 0xffff; ++v) {
    const float f = Bf16ToF32(static_cast<std::uint16_t>(v));
    if (std::isnan(f)) continue;
    EXPECT_EQ(F32ToBf16(f), v);
  }
  EXPECT_EQ(Bf16ToF32(0x3f80), 1.0f);
  EXPECT_EQ(Bf16ToF32(0xc000), -2.0f);
}

// Half precision from its definition: (-1)^s * 2^(e-15) * 1.m, or 2^-14 * 0.m subnormal.
double HalfReference(std::uint16_t v) {
  const int sign = v >> 15;
  const int exponent = (v >> 10) & 0x1f;
  const int mantissa = v & 0x3ff;
  double magnitude;
  if (exponent == 0x1f) {
    magnitude = mantissa == 0 ? std::numeric_limits<double>::infinity()
                              : std::numeric_limits<double>::quiet_NaN();
  } else if (exponent == 0) {
    magnitude = std::ldexp(mantissa, -24);
  } else {
    magnitude = std::ldexp(1024 + mantissa, exponent - 25);
  }
  return sign ? -magnitude : magnitude;
}

TEST(F16Test, MatchesDefinitionForEveryValue) {
  for (std::uint32_t v = 0; v <= 0xffff; ++v) {
    const float got = F16ToF32(static_cast<std::uint16_t>(v));
    const double want = HalfReference(static_cast<std::uint16_t>(v));
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got)) << std::hex << v;
    } else {
      EXPECT_EQ(double{got}, want) << std::hex << v;
      EXPECT_EQ(std::signbit(got), (v & 0x8000) != 0) << std::hex << v;
    }
  }
}

TEST(F16Test, SpecialValues) {
  EXPECT_EQ(F16ToF32(0x3c00), 1.0f);
  EXPECT_EQ(F16ToF32(0xc000), -2.0f);
  EXPECT_EQ(F16ToF32(0x7bff), 65504.0f);
  EXPECT_EQ(F16ToF32(0x0001), std::ldexp(1.0f, -24));     // Smallest subnormal.
  EXPECT_EQ(F16ToF32(0x03ff), std::ldexp(1023.0f, -24));  // Largest subnormal.
  EXPECT_EQ(F16ToF32(0x0400), std::ldexp(1.0f, -14));     // Smallest normal.
  EXPECT_EQ(F16ToF32(0x7c00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(F16ToF32(0xfc00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(F16ToF32(0x7e00)));
  EXPECT_TRUE(std::isnan(F16ToF32(0x7c01)));
  EXPECT_TRUE(std::signbit(F16ToF32(0x8000)));
}

// The KV cache's row store rounds exactly as F32ToBf16, on random values and the special ones
// (ties both ways, NaN payloads only in the dropped bits, rounding past the largest to Inf);
// fp32 rows are copied bit for bit.
TEST(StoreKvRowTest, MatchesScalarConversions) {
  std::vector<float> row;
  for (std::uint32_t bits : {0x3f808000u, 0x3f818000u, 0xbf818000u, 0x7f800001u, 0xff800001u,
                             0x7f7fffffu, 0x00000001u, 0x80000000u, 0x7f800000u}) {
    row.push_back(FromBits(bits));
  }
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 10.0f);
  while (row.size() < 1000) row.push_back(normal(rng));

  std::vector<std::uint16_t> bf16(row.size());
  StoreKvRow(KvDtype::kBf16, row.data(), row.size(), bf16.data());
  for (std::size_t i = 0; i < row.size(); ++i) {
    if (std::isnan(row[i])) {
      EXPECT_TRUE(std::isnan(Bf16ToF32(bf16[i]))) << i;
    } else {
      EXPECT_EQ(bf16[i], F32ToBf16(row[i])) << i << ": " << row[i];
    }
  }
  std::vector<float> f32(row.size());
  StoreKvRow(KvDtype::kF32, row.data(), row.size(), f32.data());
  EXPECT_EQ(std::memcmp(f32.data(), row.data(), row.size() * sizeof(float)), 0);
  EXPECT_EQ(KvDtypeBytes(KvDtype::kBf16), 2u);
  EXPECT_EQ(KvDtypeBytes(KvDtype::kF32), 4u);
}

}  // namespace
}  // namespace ghost::kernels
