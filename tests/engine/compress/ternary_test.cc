#include "engine/compress/ternary.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "tests/engine/compress/random_weights.h"

namespace ghost::compress {
namespace {

// The least weighted error over all 3^n code vectors, each with its own best scale
// (s = sum a w c / sum a c^2, unconstrained): the definition of optimal, by enumeration.
double BruteForceError(const std::vector<float>& w, const std::vector<float>& a) {
  const std::size_t n = w.size();
  double total = 0.0;
  for (std::size_t i = 0; i < n; ++i) total += double{a[i]} * w[i] * w[i];
  std::size_t assignments = 1;
  for (std::size_t i = 0; i < n; ++i) assignments *= 3;
  double best = std::numeric_limits<double>::infinity();
  for (std::size_t index = 0; index < assignments; ++index) {
    double awc = 0.0;
    double acc = 0.0;
    std::size_t rest = index;
    for (std::size_t i = 0; i < n; ++i, rest /= 3) {
      const int code = static_cast<int>(rest % 3) - 1;
      awc += double{a[i]} * w[i] * code;
      acc += double{a[i]} * code * code;
    }
    best = std::min(best, acc > 0.0 ? total - awc * awc / acc : total);
  }
  return best;
}

double ErrorOf(const std::vector<float>& w, const std::vector<float>& a, float scale,
               const std::vector<std::int8_t>& codes) {
  double error = 0.0;
  for (std::size_t i = 0; i < w.size(); ++i) {
    const double residual = double{w[i]} - double{scale} * codes[i];
    error += (a.empty() ? 1.0 : a[i]) * residual * residual;
  }
  return error;
}

// Blocks with ties and zeros as well as plain Gaussian ones.
std::vector<float> RandomBlock(std::size_t n, std::mt19937& rng) {
  std::normal_distribution<float> normal;
  std::uniform_int_distribution<int> kind(0, 3);
  std::vector<float> w(n);
  const int k = kind(rng);
  for (float& value : w) {
    value = normal(rng);
    if (k == 1) value = std::round(value * 2.0f) / 2.0f;  // Many equal magnitudes.
    if (k == 2 && normal(rng) > 0.5f) value = 0.0f;
  }
  return w;
}

TEST(TernaryTest, ExactSolverMatchesBruteForceOverAllAssignments) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> importance(0.0f, 3.0f);
  for (std::size_t n = 4; n <= 8; ++n) {
    for (int trial = 0; trial < 60; ++trial) {
      const std::vector<float> w = RandomBlock(n, rng);
      for (bool weighted : {false, true}) {
        std::vector<float> a(n, 1.0f);
        if (weighted) {
          for (float& value : a) value = importance(rng);
          if (trial % 5 == 0) a[trial % n] = 0.0f;  // A weight that does not matter.
        }
        std::vector<std::int8_t> codes(n);
        const TernaryFit fit =
            FitTernaryExact(w, weighted ? absl::MakeConstSpan(a) : absl::Span<const float>(),
                            absl::MakeSpan(codes));
        const double best = BruteForceError(w, a);
        double energy = 0.0;
        for (std::size_t i = 0; i < n; ++i) energy += double{a[i]} * w[i] * w[i];
        EXPECT_NEAR(fit.error, best, 1e-5 * (1.0 + energy))
            << "n=" << n << " trial=" << trial << " weighted=" << weighted;
        EXPECT_NEAR(fit.error, ErrorOf(w, a, fit.scale, codes), 1e-5 * (1.0 + energy));
        EXPECT_GE(fit.scale, 0.0f);
      }
    }
  }
}

TEST(TernaryTest, ExactSolverIsNeverWorseThanIterative) {
  std::mt19937 rng(2);
  std::uniform_real_distribution<float> importance(0.1f, 10.0f);
  int strictly_better = 0;
  int blocks = 0;
  for (std::size_t n : {16, 32, 64, 128, 256}) {
    for (int trial = 0; trial < 100; ++trial, ++blocks) {
      const std::vector<float> w = trial % 2 == 0 ? testing::GaussianWeights(n, 100 * n + trial)
                                                  : testing::StudentTWeights(n, 100 * n + trial);
      std::vector<float> a;
      if (trial % 3 == 0) {
        a.resize(n);
        for (float& value : a) value = importance(rng);
      }
      std::vector<std::int8_t> codes(n);
      const double exact = FitTernaryExact(w, a, absl::MakeSpan(codes)).error;
      const TernaryFit iterative = FitTernaryIterative(w, a, 10, absl::MakeSpan(codes));
      EXPECT_NEAR(iterative.error, ErrorOf(w, a, iterative.scale, codes), 1e-6 * iterative.error);
      EXPECT_LE(exact, iterative.error * (1.0 + 1e-6)) << "n=" << n << " trial=" << trial;
      if (exact < iterative.error * (1.0 - 1e-6)) ++strictly_better;
    }
  }
  // The baseline stops at a fixed point that is often not the optimum.
  EXPECT_GT(strictly_better, blocks / 10);
}

TEST(TernaryTest, IterativeFollowsThePublishedRecipe) {
  // mean|w| = 0.4375, t = 0.30625: codes {1, 1, 0, 0}, scale 0.75, t = 0.375: fixed point.
  const std::vector<float> w = {1.0f, -0.5f, 0.2f, 0.05f};
  std::vector<std::int8_t> codes(4);
  const TernaryFit fit = FitTernaryIterative(w, {}, 3, absl::MakeSpan(codes));
  EXPECT_FLOAT_EQ(fit.scale, 0.75f);
  EXPECT_EQ(codes, (std::vector<std::int8_t>{1, -1, 0, 0}));
}

TEST(TernaryTest, CodesForScaleThresholdAtHalfTheScale) {
  const std::vector<float> w = {0.6f, -0.6f, 0.4f, -0.4f, 0.0f};
  std::vector<std::int8_t> codes(5);
  const double error = TernaryCodesForScale(w, {}, 1.0f, absl::MakeSpan(codes));
  EXPECT_EQ(codes, (std::vector<std::int8_t>{1, -1, 0, 0, 0}));
  EXPECT_NEAR(error, 2 * 0.16 + 2 * 0.16, 1e-6);
}

TEST(TernaryTest, ZeroBlockGivesZeroScale) {
  const std::vector<float> w(16, 0.0f);
  std::vector<std::int8_t> codes(16, 5);
  for (const TernaryFit& fit : {FitTernaryExact(w, {}, absl::MakeSpan(codes)),
                                FitTernaryIterative(w, {}, 10, absl::MakeSpan(codes))}) {
    EXPECT_EQ(fit.scale, 0.0f);
    EXPECT_EQ(fit.error, 0.0);
    for (std::int8_t code : codes) EXPECT_EQ(code, 0);
  }
}

}  // namespace
}  // namespace ghost::compress
