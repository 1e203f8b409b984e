// Rotary frequency scaling against values worked out by hand from the published definitions.
#include "engine/model/rope.h"

#include <cmath>
#include <numbers>

#include "gtest/gtest.h"

namespace ghost {
namespace {

TEST(RopeTest, DefaultAndLinear) {
  const std::vector<double> plain = RopeInverseFrequencies(8, 10000.0);
  ASSERT_EQ(plain.size(), 4u);
  EXPECT_DOUBLE_EQ(plain[0], 1.0);
  EXPECT_DOUBLE_EQ(plain[1], 0.1);  // 10000^(-2/8)
  EXPECT_NEAR(plain[3], 1e-3, 1e-15);
  RopeScaling linear;
  linear.type = RopeScaling::Type::kLinear;
  linear.factor = 4.0;
  const std::vector<double> scaled = RopeInverseFrequencies(8, 10000.0, linear);
  for (int i = 0; i < 4; ++i) EXPECT_DOUBLE_EQ(scaled[i], plain[i] / 4.0);
}

// Llama 3.1: wavelengths below context/high_freq_factor keep their frequency, those above
// context/low_freq_factor are divided by factor, and the band between interpolates.
TEST(RopeTest, Llama3KeepsShortWavelengthsAndStretchesLongOnes) {
  RopeScaling llama3;
  llama3.type = RopeScaling::Type::kLlama3;
  llama3.factor = 8.0;
  llama3.low_freq_factor = 1.0;
  llama3.high_freq_factor = 4.0;
  llama3.original_max_position_embeddings = 32;  // bands: wavelength < 8 kept, > 32 scaled
  const std::vector<double> plain = RopeInverseFrequencies(8, 100.0);  // 1, 0.316, 0.1, 0.0316
  const std::vector<double> scaled = RopeInverseFrequencies(8, 100.0, llama3);
  const auto wavelength = [](double f) { return 2 * std::numbers::pi / f; };
  ASSERT_LT(wavelength(plain[0]), 8.0);
  EXPECT_DOUBLE_EQ(scaled[0], plain[0]);
  ASSERT_GT(wavelength(plain[1]), 8.0);
  ASSERT_LT(wavelength(plain[1]), 32.0);
  const double smooth = (32.0 / wavelength(plain[1]) - 1.0) / (4.0 - 1.0);
  EXPECT_DOUBLE_EQ(scaled[1], (1 - smooth) * plain[1] / 8.0 + smooth * plain[1]);
  ASSERT_GT(wavelength(plain[2]), 32.0);
  EXPECT_DOUBLE_EQ(scaled[2], plain[2] / 8.0);
  EXPECT_DOUBLE_EQ(scaled[3], plain[3] / 8.0);
}

}  // namespace
}  // namespace ghost
