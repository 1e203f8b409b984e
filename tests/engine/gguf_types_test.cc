// Golden tests of the ggml block codecs: our decoding of hand-computed Q8_0, Q4_0, Q2_0, TQ2_0
// and TQ1_0 blocks equals the reference dequantization formula (written out here as
// ggml-quants.c states it), and encoding then decoding gives back every ternary code.
#include "engine/checkpoint/gguf_types.h"

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace ghost {
namespace {

constexpr std::uint16_t kHalf = 0x3800;  // 0.5 in fp16
constexpr float kHalfValue = 0.5f;

// The reference formulas, value by value.
float RefQ2_0(const std::uint8_t* block, int j) {
  const int q = (block[2 + j / 4] >> ((j % 4) * 2)) & 3;
  return static_cast<float>(q - 1) * kHalfValue;  // scale fixed to kHalf in these tests
}

std::vector<float> RefTQ2_0(const std::uint8_t* qs) {
  std::vector<float> y;
  for (int j = 0; j < 64; j += 32) {
    for (int l = 0; l < 4; ++l) {
      for (int m = 0; m < 32; ++m) {
        const int q = (qs[j + m] >> (l * 2)) & 3;
        y.push_back(static_cast<float>(q - 1) * kHalfValue);
      }
    }
  }
  return y;
}

std::vector<float> RefTQ1_0(const std::uint8_t* qs, const std::uint8_t* qh) {
  const std::uint8_t pow3[6] = {1, 3, 9, 27, 81, 243};
  std::vector<float> y;
  const auto trit = [&](std::uint8_t byte, int n) {
    const auto q = static_cast<std::uint8_t>(byte * pow3[n]);
    return static_cast<std::int16_t>((static_cast<std::uint16_t>(q) * 3) >> 8);
  };
  for (int n = 0; n < 5; ++n) {
    for (int m = 0; m < 32; ++m) y.push_back(static_cast<float>(trit(qs[m], n) - 1) * kHalfValue);
  }
  for (int n = 0; n < 5; ++n) {
    for (int m = 0; m < 16; ++m) {
      y.push_back(static_cast<float>(trit(qs[32 + m], n) - 1) * kHalfValue);
    }
  }
  for (int n = 0; n < 4; ++n) {
    for (int j = 0; j < 4; ++j) y.push_back(static_cast<float>(trit(qh[j], n) - 1) * kHalfValue);
  }
  return y;
}

TEST(GgufTypesTest, Q8_0AndQ4_0DequantizeByTheFormula) {
  std::uint8_t q8[34] = {0x00, 0x38};  // d = 0.5
  q8[2] = 0x81;                        // -127
  q8[3] = 4;
  std::vector<float> out(32);
  DequantizeQ8_0(absl::MakeConstSpan(q8, 34), absl::MakeSpan(out));
  EXPECT_EQ(out[0], -63.5f);
  EXPECT_EQ(out[1], 2.0f);
  EXPECT_EQ(out[2], 0.0f);

  std::uint8_t q4[18] = {0x00, 0x38};
  q4[2] = 0xF0;  // low nibble 0 -> -8, high nibble 15 -> +7
  q4[3] = 0x98;  // 8 -> 0, 9 -> +1
  DequantizeQ4_0(absl::MakeConstSpan(q4, 18), absl::MakeSpan(out));
  EXPECT_EQ(out[0], -4.0f);
  EXPECT_EQ(out[16], 3.5f);
  EXPECT_EQ(out[1], 0.0f);
  EXPECT_EQ(out[17], 0.5f);
}

TEST(GgufTypesTest, Q2_0DecodesAsTheReferenceFormula) {
  std::uint8_t block[18] = {0x00, 0x38};
  block[2] = 0x92;                // 2,0,1,2 from the low bits up: +1, -1, 0, +1
  for (int i = 3; i < 18; ++i) {  // every 2-bit code in 0..2
    block[i] = static_cast<std::uint8_t>(i % 3 | (i + 1) % 3 << 2 | (i * 7) % 3 << 4 | 2 << 6);
  }
  TernaryBlock decoded;
  ASSERT_TRUE(DecodeQ2_0(block, decoded));
  EXPECT_EQ(decoded.scale_f16, kHalf);
  EXPECT_EQ(decoded.codes[0], 1);
  EXPECT_EQ(decoded.codes[1], -1);
  EXPECT_EQ(decoded.codes[2], 0);
  EXPECT_EQ(decoded.codes[3], 1);
  for (int j = 0; j < 64; ++j) {
    EXPECT_EQ(decoded.codes[j] * kHalfValue, RefQ2_0(block, j)) << j;
  }
  std::uint8_t again[18];
  EncodeQ2_0(decoded, again);
  EXPECT_EQ(std::vector<std::uint8_t>(block, block + 18),
            std::vector<std::uint8_t>(again, again + 18));
  block[17] |= 0xC0;  // code 3 (+2): not ternary
  EXPECT_FALSE(DecodeQ2_0(block, decoded));
}

TEST(GgufTypesTest, TQ2_0DecodesAsTheReferenceFormula) {
  std::uint8_t block[66] = {};
  block[0] = 0x92;                                // weights 0, 32, 64, 96: +1, -1, 0, +1
  block[33] = 0x06;                               // weight 129: q = 2 -> +1; weight 161: q = 1 -> 0
  for (int i = 40; i < 64; ++i) block[i] = 0x55;  // zeros
  block[64] = 0x00;
  block[65] = 0x38;
  TernaryBlock decoded;
  ASSERT_TRUE(DecodeTQ2_0(block, decoded));
  EXPECT_EQ(decoded.codes[0], 1);
  EXPECT_EQ(decoded.codes[32], -1);
  EXPECT_EQ(decoded.codes[64], 0);
  EXPECT_EQ(decoded.codes[96], 1);
  EXPECT_EQ(decoded.codes[129], 1);
  EXPECT_EQ(decoded.codes[161], 0);
  const std::vector<float> reference = RefTQ2_0(block);
  for (int j = 0; j < 256; ++j) EXPECT_EQ(decoded.codes[j] * kHalfValue, reference[j]) << j;
  std::uint8_t again[66];
  EncodeTQ2_0(decoded, again);
  EXPECT_EQ(std::vector<std::uint8_t>(block, block + 66),
            std::vector<std::uint8_t>(again, again + 66));
}

TEST(GgufTypesTest, TQ1_0DecodesAsTheReferenceFormula) {
  std::uint8_t block[54] = {};
  // Trits (2, 0, 1, 1, 0) of weights 0, 32, 64, 96, 128: v = 174, stored ceil(174 * 256 / 243).
  block[0] = 184;
  block[52] = 0x00;
  block[53] = 0x38;
  TernaryBlock decoded;
  DecodeTQ1_0(block, decoded);
  EXPECT_EQ(decoded.scale_f16, kHalf);
  EXPECT_EQ(decoded.codes[0], 1);
  EXPECT_EQ(decoded.codes[32], -1);
  EXPECT_EQ(decoded.codes[64], 0);
  EXPECT_EQ(decoded.codes[96], 0);
  EXPECT_EQ(decoded.codes[128], -1);
  const std::vector<float> reference = RefTQ1_0(block, block + 48);
  for (int j = 0; j < 256; ++j) EXPECT_EQ(decoded.codes[j] * kHalfValue, reference[j]) << j;
}

TEST(GgufTypesTest, DequantizeToF32KeepsQ2_0sPlusTwo) {
  std::uint8_t block[18] = {0x00, 0x38};
  block[2] = 0x03 | 0x02 << 2;  // codes 3 (+2) and 2 (+1)
  for (int i = 3; i < 18; ++i) block[i] = 0x55;
  std::vector<float> out(64);
  ASSERT_TRUE(DequantizeToF32(42, absl::MakeConstSpan(block, 18), absl::MakeSpan(out)));
  EXPECT_EQ(out[0], 2 * kHalfValue);
  EXPECT_EQ(out[1], kHalfValue);
  EXPECT_EQ(out[2], -kHalfValue);
  EXPECT_EQ(out[4], 0.0f);
  EXPECT_FALSE(DequantizeToF32(12, absl::MakeConstSpan(block, 18), absl::MakeSpan(out)));
}

TEST(GgufTypesTest, TernaryCodesSurviveEveryEncoding) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> code(-1, 1);
  TernaryBlock block;
  block.scale_f16 = kHalf;
  for (int j = 0; j < 256; ++j) block.codes[j] = static_cast<std::int8_t>(code(rng));

  std::uint8_t tq1[54], tq2[66], q2[18];
  EncodeTQ1_0(block, tq1);
  EncodeTQ2_0(block, tq2);
  EncodeQ2_0(block, q2);
  const std::vector<float> ref1 = RefTQ1_0(tq1, tq1 + 48);
  const std::vector<float> ref2 = RefTQ2_0(tq2);
  for (int j = 0; j < 256; ++j) {
    EXPECT_EQ(ref1[j], block.codes[j] * kHalfValue) << j;
    EXPECT_EQ(ref2[j], block.codes[j] * kHalfValue) << j;
  }
  for (int j = 0; j < 64; ++j) EXPECT_EQ(RefQ2_0(q2, j), block.codes[j] * kHalfValue) << j;
  TernaryBlock back;
  DecodeTQ1_0(tq1, back);
  for (int j = 0; j < 256; ++j) ASSERT_EQ(back.codes[j], block.codes[j]) << j;
}

}  // namespace
}  // namespace ghost
