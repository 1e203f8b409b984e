// The weight format table (every entry, names both ways, sizes at every block size) and the
// code packings of the block-quantized formats.
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "engine/formats/packing.h"
#include "engine/formats/weight_format.h"
#include "gtest/gtest.h"

namespace ghost {
namespace {

constexpr WeightFormat kLowBitFormats[] = {WeightFormat::kTernary2Bit, WeightFormat::kTernaryBase3,
                                           WeightFormat::kCodebook2Bit};

std::vector<std::int8_t> RandomCodes(WeightFormat format, std::size_t n, std::mt19937& rng) {
  const bool ternary = TraitsOf(format).reconstruction == Reconstruction::kScaleTimesCode;
  std::uniform_int_distribution<int> pick(ternary ? -1 : 0, ternary ? 1 : 3);
  std::vector<std::int8_t> codes(n);
  for (std::int8_t& code : codes) code = static_cast<std::int8_t>(pick(rng));
  return codes;
}

// What every entry must say; the names are the spellings config.json, CLI flags and
// ghostbench output already use, so they may never change.
struct Expected {
  WeightFormat format;
  const char* name;
  bool block_quantized;
  Reconstruction reconstruction;
  double bits_per_code;
  int codes_per_byte;
};
constexpr Expected kExpected[] = {
    {WeightFormat::kF32, "f32", false, Reconstruction::kStoredValue, 32, 0},
    {WeightFormat::kBF16, "bf16", false, Reconstruction::kStoredValue, 16, 0},
    {WeightFormat::kF16, "f16", false, Reconstruction::kStoredValue, 16, 0},
    {WeightFormat::kTernary2Bit, "ternary-2bit", true, Reconstruction::kScaleTimesCode, 2, 4},
    {WeightFormat::kTernaryBase3, "ternary-base3", true, Reconstruction::kScaleTimesCode, 1.6, 5},
    {WeightFormat::kCodebook2Bit, "codebook-2bit", true, Reconstruction::kScaleTimesCodebookEntry,
     2, 4},
};

TEST(FormatTest, EveryEntryOfTheTable) {
  ASSERT_EQ(std::size(kWeightFormats), std::size(kExpected));
  for (std::size_t i = 0; i < std::size(kExpected); ++i) {
    const Expected& want = kExpected[i];
    const WeightFormatTraits& traits = TraitsOf(want.format);
    SCOPED_TRACE(want.name);
    EXPECT_EQ(&traits, &kWeightFormats[i]);
    EXPECT_EQ(traits.format, want.format);
    EXPECT_STREQ(traits.name, want.name);
    EXPECT_STREQ(WeightFormatName(want.format), want.name);
    EXPECT_EQ(IsBlockQuantized(want.format), want.block_quantized);
    EXPECT_EQ(traits.reconstruction, want.reconstruction);
    EXPECT_DOUBLE_EQ(BitsPerCode(want.format), want.bits_per_code);
    EXPECT_EQ(traits.codes_per_byte, want.codes_per_byte);
    EXPECT_EQ(traits.pack != nullptr, want.block_quantized);
    EXPECT_EQ(traits.unpack != nullptr, want.block_quantized);
  }
}

TEST(FormatTest, NamesRoundTripAndNothingElseParses) {
  std::set<std::string> names;
  for (const WeightFormatTraits& traits : kWeightFormats) {
    EXPECT_EQ(ParseWeightFormat(traits.name), traits.format) << traits.name;
    EXPECT_TRUE(names.insert(traits.name).second) << traits.name << " twice";
  }
  for (const char* other : {"", "ternary", "BF16", "fp16", "fp32", "ternary-2bit ", "codebook4"}) {
    EXPECT_EQ(ParseWeightFormat(other), std::nullopt) << '"' << other << '"';
  }
}

TEST(FormatTest, BytesPerBlockAtEveryBlockSize) {
  // ceil(block_size / codes_per_byte): base 3 pads its last byte.
  static_assert(BytesPerBlock(WeightFormat::kTernaryBase3, 32) == 7, "usable at compile time");
  const std::size_t two_bit[] = {4, 8, 16, 32, 64};
  const std::size_t base3[] = {4, 7, 13, 26, 52};
  ASSERT_EQ(std::size(kBlockSizes), std::size(two_bit));
  for (std::size_t i = 0; i < kBlockSizes.size(); ++i) {
    const std::size_t block = kBlockSizes[i];
    EXPECT_EQ(BytesPerBlock(WeightFormat::kTernary2Bit, block), two_bit[i]) << block;
    EXPECT_EQ(BytesPerBlock(WeightFormat::kCodebook2Bit, block), two_bit[i]) << block;
    EXPECT_EQ(BytesPerBlock(WeightFormat::kTernaryBase3, block), base3[i]) << block;
  }
  EXPECT_EQ(BytesPerBlock(WeightFormat::kTernary2Bit, 17), 5u);  // Any count of codes.
  EXPECT_EQ(BytesPerBlock(WeightFormat::kTernaryBase3, 16), 4u);
}

TEST(FormatTest, BytesPerRow) {
  // A short last block takes a whole block's bytes; dense rows are cols values.
  for (WeightFormat format : kLowBitFormats) {
    for (std::size_t block : kBlockSizes) {
      for (std::size_t cols : {std::size_t{1}, block - 1, block, block + 1, std::size_t{4096}}) {
        EXPECT_EQ(BytesPerRow(format, cols, block),
                  (cols + block - 1) / block * BytesPerBlock(format, block))
            << WeightFormatName(format) << " cols " << cols << " block " << block;
      }
    }
  }
  EXPECT_EQ(BytesPerRow(WeightFormat::kTernaryBase3, 100, 64), 26u);
  EXPECT_EQ(BytesPerRow(WeightFormat::kTernary2Bit, 100, 64), 32u);
  EXPECT_EQ(BytesPerRow(WeightFormat::kF32, 100, 64), 400u);
  EXPECT_EQ(BytesPerRow(WeightFormat::kBF16, 100, 64), 200u);
  EXPECT_EQ(BytesPerRow(WeightFormat::kF16, 100, 16), 200u);
}

TEST(FormatTest, RoundTripsRandomCodesOfAwkwardLengths) {
  std::mt19937 rng(7);
  for (WeightFormat format : kLowBitFormats) {
    for (std::size_t n : {1, 2, 3, 4, 5, 6, 7, 9, 15, 16, 17, 31, 33, 64, 127, 255, 256}) {
      const std::vector<std::int8_t> codes = RandomCodes(format, n, rng);
      // A guard byte past the block must survive packing.
      std::vector<std::uint8_t> packed(BytesPerBlock(format, n) + 1, 0xa5);
      PackCodes(format, codes, absl::MakeSpan(packed));
      EXPECT_EQ(packed.back(), 0xa5) << WeightFormatName(format) << " n=" << n;
      std::vector<std::int8_t> unpacked(n);
      UnpackCodes(format, packed, absl::MakeSpan(unpacked));
      EXPECT_EQ(unpacked, codes) << WeightFormatName(format) << " n=" << n;
    }
  }
}

TEST(FormatTest, TwoBitLayoutIsLittleEndianWithinAByte) {
  // Ternary stores code + 1; code j sits at bits 2j..2j+1.
  std::vector<std::uint8_t> packed(2);
  const std::int8_t ternary[] = {-1, 0, 1, 1, 0};
  PackCodes(WeightFormat::kTernary2Bit, ternary, absl::MakeSpan(packed));
  EXPECT_EQ(packed[0], 0b10'10'01'00);
  EXPECT_EQ(packed[1], 0b01);
  const std::int8_t indices[] = {3, 2, 1, 0};
  PackCodes(WeightFormat::kCodebook2Bit, indices, absl::MakeSpan(packed));
  EXPECT_EQ(packed[0], 0b00'01'10'11);
}

TEST(FormatTest, Base3LayoutAndPadding) {
  std::vector<std::uint8_t> packed(2);
  // t = code + 1 = {2, 0, 1, 1, 2} -> 2 + 0*3 + 1*9 + 1*27 + 2*81 = 200.
  const std::int8_t codes[] = {1, -1, 0, 0, 1, 1};
  PackCodes(WeightFormat::kTernaryBase3, codes, absl::MakeSpan(packed));
  EXPECT_EQ(packed[0], 200);
  // The sixth code alone: t = 2, padding t = 1 in the other four digits.
  EXPECT_EQ(packed[1], 2 + 3 + 9 + 27 + 81);
  std::vector<std::uint8_t> all_max(1);
  const std::int8_t ones[] = {1, 1, 1, 1, 1};
  PackCodes(WeightFormat::kTernaryBase3, ones, absl::MakeSpan(all_max));
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
    UnpackCodes(WeightFormat::kTernaryBase3, absl::MakeConstSpan(&packed, 1), codes);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(codes[i], table[byte][i] - 1) << byte;
  }
  for (int byte = 243; byte < 256; ++byte) {
    for (int i = 0; i < 5; ++i) EXPECT_EQ(table[byte][i], 0) << byte;
  }
}

}  // namespace
}  // namespace ghost
