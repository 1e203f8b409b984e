#include "engine/compress/importance.h"

#include <cmath>
#include <random>
#include <vector>

#include "engine/compress/quantize.h"
#include "gtest/gtest.h"
#include "tests/engine/compress/random_weights.h"

namespace ghost::compress {
namespace {

TEST(ImportanceTest, ColumnSecondMoments) {
  const std::vector<float> x = {1.0f, -2.0f, 0.0f,  //
                                3.0f, 2.0f,  0.0f};
  absl::StatusOr<std::vector<float>> moments = ColumnSecondMoments(x.data(), 2, 3);
  ASSERT_TRUE(moments.ok()) << moments.status();
  EXPECT_EQ(*moments, (std::vector<float>{5.0f, 4.0f, 0.0f}));
  EXPECT_EQ(ColumnSecondMoments(x.data(), 0, 3).status().code(),
            absl::StatusCode::kInvalidArgument);
  const std::vector<float> bad = {1.0f, NAN};
  EXPECT_EQ(ColumnSecondMoments(bad.data(), 1, 2).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Activations whose channels differ in scale by orders of magnitude, with a few outlier
// channels, as in the residual stream of a real LLM.
std::vector<float> SkewedActivations(std::size_t n, std::size_t cols, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> channel_scale(cols);
  std::mt19937_64 channel_rng(99);  // The same channels in every sample set.
  std::normal_distribution<float> log_scale(0.0f, 1.0f);
  for (std::size_t j = 0; j < cols; ++j) {
    channel_scale[j] = std::exp(log_scale(channel_rng)) * (j % 61 == 0 ? 20.0f : 1.0f);
  }
  std::vector<float> x(n * cols);
  for (std::size_t t = 0; t < n; ++t) {
    for (std::size_t j = 0; j < cols; ++j) x[t * cols + j] = channel_scale[j] * normal(rng);
  }
  return x;
}

// sum over samples of ||(W - Q) x||^2.
double OutputError(const std::vector<float>& w, const std::vector<float>& q,
                   const std::vector<float>& x, std::size_t rows, std::size_t cols) {
  const std::size_t n = x.size() / cols;
  double error = 0.0;
  for (std::size_t t = 0; t < n; ++t) {
    for (std::size_t r = 0; r < rows; ++r) {
      double y = 0.0;
      for (std::size_t j = 0; j < cols; ++j) {
        y += (double{w[r * cols + j]} - q[r * cols + j]) * x[t * cols + j];
      }
      error += y * y;
    }
  }
  return error;
}

TEST(ImportanceTest, ActivationAwareWeightingReducesOutputError) {
  const std::size_t rows = 32;
  const std::size_t cols = 512;
  const std::vector<float> w = testing::GaussianWeights(rows * cols, 15);
  // Calibrate on one set of inputs and measure on another.
  const std::vector<float> calibration = SkewedActivations(256, cols, 1);
  const std::vector<float> held_out = SkewedActivations(128, cols, 2);
  absl::StatusOr<std::vector<float>> importance =
      ColumnSecondMoments(calibration.data(), 256, cols);
  ASSERT_TRUE(importance.ok());

  struct Scheme {
    WeightFormat format;
    TernarySolver solver;
    ScaleScheme scales;
  };
  for (const Scheme& scheme :
       {Scheme{WeightFormat::kTernary2Bit, TernarySolver::kExact, ScaleScheme::kF16PerBlock},
        Scheme{WeightFormat::kTernary2Bit, TernarySolver::kIterative, ScaleScheme::kF16PerBlock},
        Scheme{WeightFormat::kTernary2Bit, TernarySolver::kExact, ScaleScheme::kTwoLevel},
        Scheme{WeightFormat::kCodebook2Bit, TernarySolver::kExact, ScaleScheme::kF16PerBlock}}) {
    QuantizeOptions options;
    options.format = scheme.format;
    options.solver = scheme.solver;
    options.scale_scheme = scheme.scales;
    absl::StatusOr<QuantizedMatrix> plain = Quantize(w.data(), rows, cols, options);
    options.column_importance = *importance;
    absl::StatusOr<QuantizedMatrix> aware = Quantize(w.data(), rows, cols, options);
    ASSERT_TRUE(plain.ok() && aware.ok());
    const double plain_error = OutputError(w, Dequantize(*plain), held_out, rows, cols);
    const double aware_error = OutputError(w, Dequantize(*aware), held_out, rows, cols);
    EXPECT_LT(aware_error, 0.8 * plain_error)
        << WeightFormatName(scheme.format) << " " << TernarySolverName(scheme.solver) << " "
        << ScaleSchemeName(scheme.scales);
  }
}

}  // namespace
}  // namespace ghost::compress
