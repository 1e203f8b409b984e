#include "engine/formats/format.h"

#include <cstdint>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace ghost::compress {
namespace {

constexpr QuantFormat kAllFormats[] = {QuantFormat::kTernary2Bit, QuantFormat::kTernaryBase3,
                                       QuantFormat::kCodebook2Bit};

std::vector<std::int8_t> RandomCodes(QuantFormat format, std::size_t n, std::mt19937& rng) {
  const bool ternary = TraitsOf(format).reconstruction == Reconstruction::kScaleTimesCode;
  std::uniform_int_distribution<int> pick(ternary ? -1 : 0, ternary ? 1 : 3);
  std::vector<std::int8_t> codes(n);
  for (std::int8_t& code : codes) code = static_cast<std::int8_t>(pick(rng));
  return codes;
}

TEST(FormatTest, TraitsTable) {
  EXPECT_STREQ(FormatName(QuantFormat::kTernary2Bit), "ternary-2bit");
  EXPECT_STREQ(FormatName(QuantFormat::kTernaryBase3), "ternary-base3");
  EXPECT_STREQ(FormatName(QuantFormat::kCodebook2Bit), "codebook-2bit");
  EXPECT_DOUBLE_EQ(BitsPerCode(TraitsOf(QuantFormat::kTernary2Bit)), 2.0);
  EXPECT_DOUBLE_EQ(BitsPerCode(TraitsOf(QuantFormat::kTernaryBase3)), 1.6);
  EXPECT_EQ(TraitsOf(QuantFormat::kCodebook2Bit).reconstruction,
            Reconstruction::kScaleTimesCodebookEntry);
  for (QuantFormat format : kAllFormats) EXPECT_EQ(TraitsOf(format).format, format);
  // Block padding: base 3 needs whole bytes of 5 codes.
  static_assert(BytesForCodes(QuantFormat::kTernaryBase3, 32) == 7, "usable at compile time");
  EXPECT_EQ(BytesForCodes(QuantFormat::kTernary2Bit, 16), 4u);
  EXPECT_EQ(BytesForCodes(QuantFormat::kTernary2Bit, 17), 5u);
  EXPECT_EQ(BytesForCodes(QuantFormat::kTernaryBase3, 16), 4u);
  EXPECT_EQ(BytesForCodes(QuantFormat::kTernaryBase3, 32), 7u);
  EXPECT_EQ(BytesForCodes(QuantFormat::kTernaryBase3, 256), 52u);
}

TEST(FormatTest, RoundTripsRandomCodesOfAwkwardLengths) {
  std::mt19937 rng(7);
  for (QuantFormat format : kAllFormats) {
    for (std::size_t n : {1, 2, 3, 4, 5, 6, 7, 9, 15, 16, 17, 31, 33, 64, 127, 255, 256}) {
      const std::vector<std::int8_t> codes = RandomCodes(format, n, rng);
      // A guard byte past the block must survive packing.
      std::vector<std::uint8_t> packed(BytesForCodes(format, n) + 1, 0xa5);
      PackCodes(format, codes, absl::MakeSpan(packed));
      EXPECT_EQ(packed.back(), 0xa5) << FormatName(format) << " n=" << n;
      std::vector<std::int8_t> unpacked(n);
      UnpackCodes(format, packed, absl::MakeSpan(unpacked));
      EXPECT_EQ(unpacked, codes) << FormatName(format) << " n=" << n;
    }
  }
}

TEST(FormatTest, TwoBitLayoutIsLittleEndianWithinAByte) {
  // Ternary stores code + 1; code j sits at bits 2j..2j+1.
  std::vector<std::uint8_t> packed(2);
  const std::int8_t ternary[] = {-1, 0, 1, 1, 0};
  PackCodes(QuantFormat::kTernary2Bit, ternary, absl::MakeSpan(packed));
  EXPECT_EQ(packed[0], 0b10'10'01'00);
  EXPECT_EQ(packed[1], 0b01);
  const std::int8_t indices[] = {3, 2, 1, 0};
  PackCodes(QuantFormat::kCodebook2Bit, indices, absl::MakeSpan(packed));
  EXPECT_EQ(packed[0], 0b00'01'10'11);
}

TEST(FormatTest, Base3LayoutAndPadding) {
  std::vector<std::uint8_t> packed(2);
  // t = code + 1 = {2, 0, 1, 1, 2} -> 2 + 0*3 + 1*9 + 1*27 + 2*81 = 200.
  const std::int8_t codes[] = {1, -1, 0, 0, 1, 1};
  PackCodes(QuantFormat::kTernaryBase3, codes, absl::MakeSpan(packed));
  EXPECT_EQ(packed[0], 200);
  // The sixth code alone: t = 2, padding t = 1 in the other four digits.
  EXPECT_EQ(packed[1], 2 + 3 + 9 + 27 + 81);
  std::vector<std::uint8_t> all_max(1);
  const std::int8_t ones[] = {1, 1, 1, 1, 1};
  PackCodes(QuantFormat::kTernaryBase3, ones, absl::MakeSpan(all_max));
  EXPECT_EQ(all_max[0], 242);
}

TEST(FormatTest, Base3TableDecodesEveryValidByte) {
  const auto& table = Base3Table();
  for (int byte = 0; byte < 243; ++byte) {
    int value = 0;
    int power = 1;
    for (int i = 0; i < 5; ++i) {
      ASSERT_LE(table[byte][i], 2) << byte;
      value += table[byte][i] * power;
      power *= 3;
    }
    EXPECT_EQ(value, byte);
    // The unpacker agrees with the table.
    const std::uint8_t packed = static_cast<std::uint8_t>(byte);
    std::int8_t codes[5];
    UnpackCodes(QuantFormat::kTernaryBase3, absl::MakeConstSpan(&packed, 1), codes);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(codes[i], table[byte][i] - 1) << byte;
  }
  for (int byte = 243; byte < 256; ++byte) {
    for (int i = 0; i < 5; ++i) EXPECT_EQ(table[byte][i], 0) << byte;
  }
}

}  // namespace
}  // namespace ghost::compress
