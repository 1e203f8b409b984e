#include "engine/compress/scales.h"

#include <cstdint>
#include <random>
#include <vector>

#include "engine/compress/metrics.h"
#include "engine/compress/quantize.h"
#include "engine/compress/ternary.h"
#include "engine/formats/packing.h"
#include "gtest/gtest.h"
#include "tests/engine/compress/random_weights.h"

namespace ghost::compress {
namespace {

TEST(ScalesTest, BitStreamRoundTripsEveryWidth) {
  std::mt19937 rng(3);
  for (int bits = 1; bits <= 8; ++bits) {
    for (std::size_t count : {1, 2, 3, 7, 8, 9, 63, 896}) {
      std::uniform_int_distribution<int> pick(0, (1 << bits) - 1);
      std::vector<std::uint8_t> values(count);
      for (std::uint8_t& v : values) v = static_cast<std::uint8_t>(pick(rng));
      std::vector<std::uint8_t> packed(BytesForBits(count, bits) + 1, 0xee);
      PackBits(values, bits, absl::MakeSpan(packed));
      EXPECT_EQ(packed.back(), 0xee) << "wrote past the stream";
      for (std::size_t i = 0; i < count; ++i) {
        ASSERT_EQ(ReadBits(packed, i, bits), values[i]) << "bits=" << bits << " i=" << i;
      }
    }
  }
}

TEST(ScalesTest, BitStreamLayoutIsLittleEndian) {
  std::vector<std::uint8_t> packed(3);
  PackBits(std::vector<std::uint8_t>{0x1, 0x2, 0x3}, 4, absl::MakeSpan(packed));
  EXPECT_EQ(packed[0], 0x21);
  EXPECT_EQ(packed[1], 0x03);
  // 6 bits: 0b111111 at stream bits 0..5, 0b000001 at 6..11, 0b101010 at 12..17.
  PackBits(std::vector<std::uint8_t>{0x3f, 0x01, 0x2a}, 6, absl::MakeSpan(packed));
  EXPECT_EQ(packed[0], 0b01'111111);
  EXPECT_EQ(packed[1], 0b1010'0000);
  EXPECT_EQ(packed[2], 0b10);
}

TEST(ScalesTest, TwoLevelBlockScale) {
  EXPECT_FLOAT_EQ(TwoLevelBlockScale(2.0f, 15, 4), 2.0f);
  EXPECT_FLOAT_EQ(TwoLevelBlockScale(2.0f, 0, 4), 0.125f);
  EXPECT_FLOAT_EQ(TwoLevelBlockScale(2.0f, 31, 6), 1.0f);
  EXPECT_STREQ(ScaleSchemeName(ScaleScheme::kTwoLevel), "two-level");
}

double BitsFor(WeightFormat format, ScaleScheme scheme, int sub_bits, std::size_t block,
               std::size_t cols) {
  const std::vector<float> w = testing::GaussianWeights(4 * cols, 5);
  QuantizeOptions options;
  options.format = format;
  options.scale_scheme = scheme;
  options.sub_scale_bits = sub_bits;
  options.block_size = block;
  absl::StatusOr<QuantizedMatrix> q = Quantize(w.data(), 4, cols, options);
  EXPECT_TRUE(q.ok()) << q.status();
  return q.ok() ? q->BitsPerWeight() : 0.0;
}

TEST(ScalesTest, BitsPerWeightIsExact) {
  constexpr auto kTernary = WeightFormat::kTernary2Bit;
  constexpr auto kFp16 = ScaleScheme::kF16PerBlock;
  constexpr auto kTwoLevel = ScaleScheme::kTwoLevel;
  // Llama-3-8B MLP width: every block and super-block is whole.
  EXPECT_DOUBLE_EQ(BitsFor(kTernary, kFp16, 4, 16, 14336), 2.0 + 16.0 / 16);
  EXPECT_DOUBLE_EQ(BitsFor(kTernary, kTwoLevel, 4, 16, 14336), 2.0 + 4.0 / 16 + 16.0 / 256);
  EXPECT_DOUBLE_EQ(BitsFor(kTernary, kTwoLevel, 6, 32, 14336), 2.0 + 6.0 / 32 + 16.0 / 256);
  EXPECT_DOUBLE_EQ(BitsFor(kTernary, kTwoLevel, 4, 256, 14336), 2.0 + 4.0 / 256 + 16.0 / 256);
  // Base 3: 13 bytes per 64 codes.
  EXPECT_DOUBLE_EQ(BitsFor(WeightFormat::kTernaryBase3, kTwoLevel, 4, 64, 14336),
                   13.0 * 8 / 64 + 4.0 / 64 + 16.0 / 256);
  // Codebook: four fp16 entries per row on top.
  EXPECT_DOUBLE_EQ(BitsFor(WeightFormat::kCodebook2Bit, kFp16, 4, 16, 14336),
                   2.0 + 16.0 / 16 + 64.0 / 14336);
  // 1000 columns: 63 blocks of 16, the last short but stored whole; 4 super-blocks; 63
  // sub-scales of 4 bits in 32 bytes.
  EXPECT_DOUBLE_EQ(BitsFor(kTernary, kFp16, 4, 16, 1000), 8.0 * (63 * 4 + 63 * 2) / 1000);
  EXPECT_DOUBLE_EQ(BitsFor(kTernary, kTwoLevel, 4, 16, 1000), 8.0 * (63 * 4 + 4 * 2 + 32) / 1000);
}

TEST(ScalesTest, TwoLevelCodesAreOptimalForTheStoredScale) {
  const std::size_t rows = 8;
  const std::size_t cols = 1000;
  const std::vector<float> w = testing::StudentTWeights(rows * cols, 6);
  for (int bits : {4, 6}) {
    QuantizeOptions options;
    options.scale_scheme = ScaleScheme::kTwoLevel;
    options.sub_scale_bits = bits;
    absl::StatusOr<QuantizedMatrix> q = Quantize(w.data(), rows, cols, options);
    ASSERT_TRUE(q.ok()) << q.status();
    ASSERT_TRUE(q->Validate().ok()) << q->Validate();
    std::vector<std::int8_t> stored(16);
    std::vector<std::int8_t> best(16);
    for (std::size_t r = 0; r < rows; ++r) {
      for (std::size_t b = 0; b < q->blocks_per_row(); ++b) {
        const std::size_t length = std::min<std::size_t>(16, cols - 16 * b);
        const absl::Span<const float> block(w.data() + r * cols + 16 * b, length);
        UnpackCodes(q->format,
                    absl::MakeConstSpan(q->codes).subspan(r * q->code_bytes_per_row() +
                                                          b * q->block_bytes()),
                    absl::MakeSpan(stored.data(), length));
        TernaryCodesForScale(block, {}, q->BlockScale(r, b), absl::MakeSpan(best.data(), length));
        ASSERT_EQ(stored, best) << "row " << r << " block " << b;
      }
    }
  }
}

TEST(ScalesTest, TwoLevelKeepsFp16QualityAtFewerBits) {
  const std::size_t rows = 32;
  const std::size_t cols = 4096;
  const std::vector<float> w = testing::GaussianWeights(rows * cols, 7);
  QuantizeOptions fp16;
  QuantizeOptions two_level;
  two_level.scale_scheme = ScaleScheme::kTwoLevel;
  absl::StatusOr<QuantizedMatrix> a = Quantize(w.data(), rows, cols, fp16);
  absl::StatusOr<QuantizedMatrix> b = Quantize(w.data(), rows, cols, two_level);
  ASSERT_TRUE(a.ok() && b.ok());
  const double cosine_fp16 = QualityOf(CompareWithOriginal(w.data(), *a)).cosine;
  const double cosine_two_level = QualityOf(CompareWithOriginal(w.data(), *b)).cosine;
  EXPECT_DOUBLE_EQ(a->BitsPerWeight(), 3.0);
  EXPECT_LE(b->BitsPerWeight(), 2.35);
  EXPECT_GT(cosine_two_level, cosine_fp16 - 0.002);
}

}  // namespace
}  // namespace ghost::compress
