#include "engine/compress/codebook.h"

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "engine/compress/metrics.h"
#include "engine/compress/quantize.h"
#include "gtest/gtest.h"
#include "tests/engine/compress/random_weights.h"

namespace ghost::compress {
namespace {

// Weighted error of a fit, with every code chosen afresh for its block's scale.
double FitError(const std::vector<float>& w, std::size_t rows, std::size_t cols, std::size_t block,
                const CodebookFit& fit) {
  const std::size_t blocks = (cols + block - 1) / block;
  std::vector<std::int8_t> codes(block);
  double error = 0.0;
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t b = 0; b < blocks; ++b) {
      const std::size_t length = std::min(block, cols - b * block);
      error += CodebookCodesForScale(absl::MakeConstSpan(w.data() + r * cols + b * block, length),
                                     {}, fit.codebook, fit.scales[r * blocks + b],
                                     absl::MakeSpan(codes.data(), length));
    }
  }
  return error;
}

TEST(CodebookTest, CodesAreTheNearestEntries) {
  const Codebook codebook = {-1.0f, -0.25f, 0.3f, 1.0f};
  const std::vector<float> w = testing::GaussianWeights(500, 8, 1.0f);
  std::vector<std::int8_t> codes(w.size());
  const float scale = 0.7f;
  double expected_error = 0.0;
  CodebookCodesForScale(w, {}, codebook, scale, absl::MakeSpan(codes));
  for (std::size_t i = 0; i < w.size(); ++i) {
    int nearest = 0;
    for (int c = 1; c < kCodebookSize; ++c) {
      if (std::fabs(w[i] - scale * codebook[c]) < std::fabs(w[i] - scale * codebook[nearest])) {
        nearest = c;
      }
    }
    EXPECT_EQ(codes[i], nearest) << w[i];
    expected_error += std::pow(w[i] - scale * codebook[nearest], 2);
  }
  EXPECT_NEAR(CodebookCodesForScale(w, {}, codebook, scale, absl::MakeSpan(codes)), expected_error,
              1e-6 * expected_error);
}

TEST(CodebookTest, FitIsNormalisedAndImprovesWithIterations) {
  const std::size_t rows = 4;
  const std::size_t cols = 1000;
  const std::vector<float> w = testing::StudentTWeights(rows * cols, 9);
  const CodebookFit one = FitCodebook(w.data(), rows, cols, 16, {}, 1);
  const CodebookFit ten = FitCodebook(w.data(), rows, cols, 16, {}, 10);
  for (const CodebookFit* fit : {&one, &ten}) {
    EXPECT_TRUE(std::is_sorted(fit->codebook.begin(), fit->codebook.end()));
    EXPECT_FLOAT_EQ(std::max(-fit->codebook.front(), fit->codebook.back()), 1.0f);
    ASSERT_EQ(fit->scales.size(), rows * 63);
    for (float scale : fit->scales) EXPECT_GT(scale, 0.0f);
  }
  EXPECT_LE(FitError(w, rows, cols, 16, ten), FitError(w, rows, cols, 16, one));
}

TEST(CodebookTest, ZeroWeightsGiveZeroScales) {
  std::vector<float> w(2 * 64, 0.0f);
  w[70] = 0.5f;  // Row 1, block 0 of 32.
  const CodebookFit fit = FitCodebook(w.data(), 2, 64, 32, {}, 5);
  EXPECT_EQ(fit.scales[0], 0.0f);
  EXPECT_EQ(fit.scales[1], 0.0f);
  EXPECT_GT(fit.scales[2], 0.0f);
  EXPECT_EQ(fit.scales[3], 0.0f);
  const CodebookFit empty = FitCodebook(w.data(), 1, 64, 32, {}, 5);
  EXPECT_EQ(empty.codebook, (Codebook{0.0f, 0.0f, 0.0f, 0.0f}));
}

double CosineOf(const std::vector<float>& w, std::size_t rows, std::size_t cols,
                const QuantizeOptions& options, double* bits) {
  absl::StatusOr<QuantizedMatrix> q = Quantize(w.data(), rows, cols, options);
  EXPECT_TRUE(q.ok()) << q.status();
  if (!q.ok()) return 0.0;
  *bits = q->BitsPerWeight();
  return QualityOf(CompareWithOriginal(w.data(), *q)).cosine;
}

TEST(CodebookTest, BeatsTernaryOnGaussianWeightsAtTheSameSize) {
  const std::size_t rows = 16;
  const std::size_t cols = 4096;
  const std::vector<float> w = testing::GaussianWeights(rows * cols, 10);
  for (ScaleScheme scheme : {ScaleScheme::kF16PerBlock, ScaleScheme::kTwoLevel}) {
    QuantizeOptions ternary;
    ternary.scale_scheme = scheme;
    QuantizeOptions codebook = ternary;
    codebook.format = WeightFormat::kCodebook2Bit;
    double ternary_bits = 0.0;
    double codebook_bits = 0.0;
    const double ternary_cosine = CosineOf(w, rows, cols, ternary, &ternary_bits);
    const double codebook_cosine = CosineOf(w, rows, cols, codebook, &codebook_bits);
    // Same codes and scales; the codebook adds 64 bits per row.
    EXPECT_NEAR(codebook_bits, ternary_bits + 64.0 / cols, 1e-12);
    EXPECT_LT(ternary_cosine, 0.92);
    EXPECT_GT(codebook_cosine, 0.945) << ScaleSchemeName(scheme);
  }
}

TEST(CodebookTest, RowGroupsShareOneCodebook) {
  const std::size_t rows = 10;
  const std::size_t cols = 256;
  const std::vector<float> w = testing::GaussianWeights(rows * cols, 11);
  QuantizeOptions options;
  options.format = WeightFormat::kCodebook2Bit;
  options.codebook_group_rows = 4;
  absl::StatusOr<QuantizedMatrix> grouped = Quantize(w.data(), rows, cols, options);
  ASSERT_TRUE(grouped.ok()) << grouped.status();
  EXPECT_TRUE(grouped->Validate().ok()) << grouped->Validate();
  EXPECT_EQ(grouped->num_codebook_groups(), 3u);  // Rows 0-3, 4-7, 8-9.
  EXPECT_EQ(grouped->codebook.size(), 12u);
  options.codebook_group_rows = 1;
  absl::StatusOr<QuantizedMatrix> per_row = Quantize(w.data(), rows, cols, options);
  ASSERT_TRUE(per_row.ok());
  EXPECT_EQ(per_row->codebook.size(), 40u);
  // Rows of one distribution lose little by sharing a codebook.
  EXPECT_GT(QualityOf(CompareWithOriginal(w.data(), *grouped)).cosine,
            QualityOf(CompareWithOriginal(w.data(), *per_row)).cosine - 0.005);
}

}  // namespace
}  // namespace ghost::compress
