#include "engine/compress/quantize.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "engine/compress/metrics.h"
#include "engine/formats/packing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kernels/cpu/matmul.h"
#include "tests/engine/compress/random_weights.h"

namespace ghost::compress {
namespace {

using ::testing::HasSubstr;

// Decodes weight (r, c) straight from the layout documented in packing.h, scales.h and
// quantized_matrix.h, sharing no code with the library's decoder.
float ReferenceWeight(const QuantizedMatrix& m, std::size_t r, std::size_t c) {
  const std::size_t block = c / m.block_size;
  const std::size_t j = c % m.block_size;
  const std::size_t blocks = (m.cols + m.block_size - 1) / m.block_size;
  const bool base3 = m.format == WeightFormat::kTernaryBase3;
  const std::size_t block_bytes = base3 ? (m.block_size + 4) / 5 : m.block_size / 4;
  const std::uint8_t* codes = m.codes.data() + (r * blocks + block) * block_bytes;
  int stored = 0;
  if (base3) {
    stored = codes[j / 5];
    for (std::size_t i = 0; i < j % 5; ++i) stored /= 3;
    stored %= 3;
  } else {
    stored = (codes[j / 4] >> (2 * (j % 4))) & 3;
  }
  float scale = 0.0f;
  if (m.scale_scheme == ScaleScheme::kF16PerBlock) {
    scale = kernels::F16ToF32(m.scales[r * blocks + block]);
  } else {
    const std::size_t per_super = 256 / m.block_size;
    const std::size_t supers = (blocks + per_super - 1) / per_super;
    const std::size_t stream_bytes = (blocks * m.sub_scale_bits + 7) / 8;
    unsigned q = 0;
    for (int bit = 0; bit < m.sub_scale_bits; ++bit) {
      const std::size_t k = block * m.sub_scale_bits + bit;
      q |= ((m.sub_scales[r * stream_bytes + k / 8] >> (k % 8)) & 1u) << bit;
    }
    scale = kernels::F16ToF32(m.scales[r * supers + block / per_super]) *
            static_cast<float>(q + 1) / static_cast<float>(1 << m.sub_scale_bits);
  }
  if (m.format == WeightFormat::kCodebook2Bit) {
    return scale * kernels::F16ToF32(m.codebook[4 * (r / m.codebook_group_rows) + stored]);
  }
  return scale * static_cast<float>(stored - 1);
}

struct Case {
  WeightFormat format;
  ScaleScheme scheme;
  int sub_scale_bits;
};

constexpr Case kCases[] = {
    {WeightFormat::kTernary2Bit, ScaleScheme::kF16PerBlock, 4},
    {WeightFormat::kTernary2Bit, ScaleScheme::kTwoLevel, 4},
    {WeightFormat::kTernaryBase3, ScaleScheme::kF16PerBlock, 4},
    {WeightFormat::kTernaryBase3, ScaleScheme::kTwoLevel, 6},
    {WeightFormat::kCodebook2Bit, ScaleScheme::kF16PerBlock, 4},
    {WeightFormat::kCodebook2Bit, ScaleScheme::kTwoLevel, 6},
};

TEST(QuantizeTest, DequantizeMatchesTheDocumentedLayout) {
  for (const Case& c : kCases) {
    for (std::size_t block : kBlockSizes) {
      for (std::size_t cols : {1, 17, 300, 1000}) {
        const std::size_t rows = 3;
        const std::vector<float> w = testing::StudentTWeights(rows * cols, cols + block);
        QuantizeOptions options;
        options.format = c.format;
        options.block_size = block;
        options.scale_scheme = c.scheme;
        options.sub_scale_bits = c.sub_scale_bits;
        absl::StatusOr<QuantizedMatrix> q = Quantize(w.data(), rows, cols, options);
        ASSERT_TRUE(q.ok()) << q.status();
        ASSERT_TRUE(q->Validate().ok()) << q->Validate();
        const std::vector<float> decoded = Dequantize(*q);
        ASSERT_EQ(decoded.size(), rows * cols);
        for (std::size_t r = 0; r < rows; ++r) {
          for (std::size_t col = 0; col < cols; ++col) {
            ASSERT_FLOAT_EQ(decoded[r * cols + col], ReferenceWeight(*q, r, col))
                << WeightFormatName(c.format) << " " << ScaleSchemeName(c.scheme) << " B=" << block
                << " cols=" << cols << " at (" << r << ", " << col << ")";
          }
        }
        // A short last block is padded with code 0 (ternary) or index 0 (codebook).
        const std::size_t last = q->blocks_per_row() - 1;
        const std::size_t used = cols - last * block;
        std::vector<std::int8_t> codes(block);
        for (std::size_t r = 0; r < rows; ++r) {
          UnpackCodes(q->format,
                      absl::MakeConstSpan(q->codes).subspan(r * q->code_bytes_per_row() +
                                                            last * q->block_bytes()),
                      absl::MakeSpan(codes));
          for (std::size_t j = used; j < block; ++j) ASSERT_EQ(codes[j], 0) << j;
        }
        // The decoded matrix is a fair approximation, padding and all.
        if (cols >= 300) {
          EXPECT_GT(QualityOf(CompareWithOriginal(w.data(), *q)).cosine, 0.8);
        }
      }
    }
  }
}

TEST(QuantizeTest, ThreadPoolGivesIdenticalResults) {
  const std::vector<float> w = testing::GaussianWeights(37 * 500, 12);
  for (const Case& c : kCases) {
    QuantizeOptions options;
    options.format = c.format;
    options.scale_scheme = c.scheme;
    options.codebook_group_rows = 5;
    absl::StatusOr<QuantizedMatrix> serial = Quantize(w.data(), 37, 500, options);
    options.parallel = true;
    absl::StatusOr<QuantizedMatrix> parallel = Quantize(w.data(), 37, 500, options);
    ASSERT_TRUE(serial.ok() && parallel.ok());
    EXPECT_EQ(serial->codes, parallel->codes);
    EXPECT_EQ(serial->scales, parallel->scales);
    EXPECT_EQ(serial->sub_scales, parallel->sub_scales);
    EXPECT_EQ(serial->codebook, parallel->codebook);
  }
}

TEST(QuantizeTest, TernaryFidelityOnGaussianWeights) {
  // The best ternary quantizer of a Gaussian reaches cosine ~0.90-0.91; blocks of 16 with
  // the exact solver do a little better.
  const std::vector<float> w = testing::GaussianWeights(16 * 4096, 13);
  absl::StatusOr<QuantizedMatrix> q = Quantize(w.data(), 16, 4096, QuantizeOptions{});
  ASSERT_TRUE(q.ok());
  const Quality quality = QualityOf(CompareWithOriginal(w.data(), *q));
  EXPECT_GT(quality.cosine, 0.905);
  EXPECT_LT(quality.cosine, 0.92);
  EXPECT_NEAR(CompressionRatioVsBf16(*q), 16.0 / 3.0, 1e-12);
}

TEST(QuantizeTest, MetricsOnKnownVectors) {
  ErrorSums sums;
  sums.Add(std::vector<float>{1.0f, 0.0f}, std::vector<float>{0.0f, 1.0f});
  Quality quality = QualityOf(sums);
  EXPECT_DOUBLE_EQ(quality.cosine, 0.0);
  EXPECT_DOUBLE_EQ(quality.mse, 1.0);
  EXPECT_DOUBLE_EQ(quality.relative_error, std::sqrt(2.0));
  ErrorSums same;
  same.Add(std::vector<float>{3.0f, -4.0f}, std::vector<float>{3.0f, -4.0f});
  sums += same;
  EXPECT_EQ(sums.count, 4u);
  quality = QualityOf(same);
  EXPECT_DOUBLE_EQ(quality.cosine, 1.0);
  EXPECT_DOUBLE_EQ(quality.mse, 0.0);
}

absl::Status StatusOf(const QuantizeOptions& options, std::vector<float> w = {0.1f, -0.2f},
                      std::size_t cols = 2) {
  return Quantize(w.data(), w.size() / std::max<std::size_t>(cols, 1), cols, options).status();
}

TEST(QuantizeTest, RejectsBadOptionsWithClearMessages) {
  QuantizeOptions options;
  options.block_size = 24;
  EXPECT_EQ(options.Validate().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(options.Validate().message()), HasSubstr("block_size 24"));

  options = QuantizeOptions{};
  options.scale_scheme = ScaleScheme::kTwoLevel;
  options.sub_scale_bits = 5;
  EXPECT_THAT(std::string(StatusOf(options).message()), HasSubstr("sub_scale_bits 5"));

  options = QuantizeOptions{};
  options.format = WeightFormat::kCodebook2Bit;
  options.solver = TernarySolver::kIterative;
  EXPECT_EQ(StatusOf(options).code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(StatusOf(options).message()), HasSubstr("codebook-2bit"));

  options = QuantizeOptions{};
  options.format = WeightFormat::kCodebook2Bit;
  options.codebook_group_rows = 0;
  EXPECT_EQ(StatusOf(options).code(), absl::StatusCode::kInvalidArgument);
  options.codebook_group_rows = 1;
  options.lloyd_iterations = 0;
  EXPECT_EQ(StatusOf(options).code(), absl::StatusCode::kInvalidArgument);

  options = QuantizeOptions{};
  options.solver = TernarySolver::kIterative;
  options.iterative_rounds = 0;
  EXPECT_THAT(std::string(StatusOf(options).message()), HasSubstr("iterative_rounds"));

  options = QuantizeOptions{};
  options.format = static_cast<WeightFormat>(17);
  EXPECT_EQ(options.Validate().code(), absl::StatusCode::kInvalidArgument);

  options = QuantizeOptions{};
  options.format = WeightFormat::kBF16;  // A weight format, but not one Quantize() writes.
  EXPECT_THAT(std::string(options.Validate().message()), HasSubstr("bf16 is not block-quantized"));
}

TEST(QuantizeTest, RejectsBadInputs) {
  const QuantizeOptions defaults;
  EXPECT_THAT(std::string(StatusOf(defaults, {}, 0).message()), HasSubstr("empty"));
  EXPECT_THAT(std::string(StatusOf(defaults, {0.1f, NAN}).message()), HasSubstr("weight (0, 1)"));
  EXPECT_EQ(StatusOf(defaults, {1e6f, 0.0f}).code(), absl::StatusCode::kInvalidArgument);

  const std::vector<float> three = {1.0f, 1.0f, 1.0f};
  QuantizeOptions options;
  options.column_importance = three;
  EXPECT_THAT(std::string(StatusOf(options).message()), HasSubstr("3 values for 2 columns"));
  const std::vector<float> negative = {1.0f, -1.0f};
  options.column_importance = negative;
  EXPECT_THAT(std::string(StatusOf(options).message()), HasSubstr("column_importance[1]"));
  const std::vector<float> infinite = {std::numeric_limits<float>::infinity(), 1.0f};
  options.column_importance = infinite;
  EXPECT_EQ(StatusOf(options).code(), absl::StatusCode::kInvalidArgument);
}

TEST(QuantizeTest, ValidateCatchesCorruptMatrices) {
  const std::vector<float> w = testing::GaussianWeights(2 * 64, 14);
  for (WeightFormat format : {WeightFormat::kTernary2Bit, WeightFormat::kTernaryBase3}) {
    QuantizeOptions options;
    options.format = format;
    absl::StatusOr<QuantizedMatrix> q = Quantize(w.data(), 2, 64, options);
    ASSERT_TRUE(q.ok() && q->Validate().ok());
    QuantizedMatrix bad = *q;
    bad.codes[3] = format == WeightFormat::kTernary2Bit ? 0x3f : 243;
    EXPECT_THAT(std::string(bad.Validate().message()), HasSubstr("code byte 3"));
    bad = *q;
    bad.scales.pop_back();
    EXPECT_THAT(std::string(bad.Validate().message()), HasSubstr("scales holds"));
    bad = *q;
    bad.scales[0] = 0x7c00;  // +Inf
    EXPECT_EQ(bad.Validate().code(), absl::StatusCode::kInvalidArgument);
    bad = *q;
    bad.block_size = 48;
    EXPECT_EQ(bad.Validate().code(), absl::StatusCode::kInvalidArgument);
    bad = *q;
    bad.format = WeightFormat::kF16;
    EXPECT_THAT(std::string(bad.Validate().message()), HasSubstr("f16 is not block-quantized"));
  }
}

}  // namespace
}  // namespace ghost::compress
