#include "engine/checkpoint/gguf_types.h"

#include <array>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace ghost {
namespace {

// Block sizes and bytes per block from ggml-common.h; ids 4, 5, 31-33 and 36-38 are removed types.
constexpr std::array<GgmlTypeInfo, 35> kGgmlTypes = {{
    {0, "F32", 1, 4},         {1, "F16", 1, 2},         {2, "Q4_0", 32, 18},
    {3, "Q4_1", 32, 20},      {6, "Q5_0", 32, 22},      {7, "Q5_1", 32, 24},
    {8, "Q8_0", 32, 34},      {9, "Q8_1", 32, 36},      {10, "Q2_K", 256, 84},
    {11, "Q3_K", 256, 110},   {12, "Q4_K", 256, 144},   {13, "Q5_K", 256, 176},
    {14, "Q6_K", 256, 210},   {15, "Q8_K", 256, 292},   {16, "IQ2_XXS", 256, 66},
    {17, "IQ2_XS", 256, 74},  {18, "IQ3_XXS", 256, 98}, {19, "IQ1_S", 256, 50},
    {20, "IQ4_NL", 32, 18},   {21, "IQ3_S", 256, 110},  {22, "IQ2_S", 256, 82},
    {23, "IQ4_XS", 256, 136}, {24, "I8", 1, 1},         {25, "I16", 1, 2},
    {26, "I32", 1, 4},        {27, "I64", 1, 8},        {28, "F64", 1, 8},
    {29, "IQ1_M", 256, 56},   {30, "BF16", 1, 2},       {34, "TQ1_0", 256, 54},
    {35, "TQ2_0", 256, 66},   {39, "MXFP4", 32, 17},    {40, "NVFP4", 64, 36},
    {41, "Q1_0", 128, 18},    {42, "Q2_0", 64, 18},
}};

// IEEE binary16 bits to float, exactly (subnormals, Inf and NaN included).
float HalfToFloat(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000) << 16;
  std::uint32_t exponent = (h >> 10) & 0x1f;
  std::uint32_t mantissa = h & 0x3ff;
  std::uint32_t bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {  // subnormal: normalize
    exponent = 113;
    while ((mantissa & 0x400) == 0) {
      mantissa <<= 1;
      --exponent;
    }
    bits = sign | (exponent << 23) | ((mantissa & 0x3ff) << 13);
  }
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

std::uint16_t LoadU16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}
void StoreU16(std::uint16_t v, std::uint8_t* p) {
  p[0] = static_cast<std::uint8_t>(v);
  p[1] = static_cast<std::uint8_t>(v >> 8);
}

// Trit n (most significant first) of a TQ1_0 byte, as ggml extracts it.
int Trit(std::uint8_t byte, int n) {
  constexpr std::uint8_t kPow3[5] = {1, 3, 9, 27, 81};
  const auto shifted = static_cast<std::uint8_t>(byte * kPow3[n]);
  return (static_cast<std::uint16_t>(shifted) * 3) >> 8;
}

// The stored byte of base-3 digits t[0..4] (most significant first): ceil(v * 256 / 243).
std::uint8_t TritByte(const int (&t)[5]) {
  int v = 0;
  for (int digit : t) v = v * 3 + digit;
  return static_cast<std::uint8_t>((v * 256 + 242) / 243);
}

}  // namespace

std::optional<GgmlTypeInfo> FindGgmlType(std::uint32_t id) {
  for (const GgmlTypeInfo& info : kGgmlTypes) {
    if (info.id == id) return info;
  }
  return std::nullopt;
}

std::string GgmlTypeName(std::uint32_t id) {
  const std::optional<GgmlTypeInfo> info = FindGgmlType(id);
  return info ? std::string(info->name) : absl::StrCat("type ", id);
}

void DequantizeQ8_0(absl::Span<const std::uint8_t> blocks, absl::Span<float> out) {
  for (std::size_t b = 0; b * 34 < blocks.size(); ++b) {
    const std::uint8_t* block = blocks.data() + b * 34;
    const float d = HalfToFloat(LoadU16(block));
    for (int j = 0; j < 32; ++j) {
      out[b * 32 + j] = d * static_cast<float>(static_cast<std::int8_t>(block[2 + j]));
    }
  }
}

void DequantizeQ4_0(absl::Span<const std::uint8_t> blocks, absl::Span<float> out) {
  for (std::size_t b = 0; b * 18 < blocks.size(); ++b) {
    const std::uint8_t* block = blocks.data() + b * 18;
    const float d = HalfToFloat(LoadU16(block));
    for (int j = 0; j < 16; ++j) {
      out[b * 32 + j] = d * static_cast<float>((block[2 + j] & 15) - 8);
      out[b * 32 + j + 16] = d * static_cast<float>((block[2 + j] >> 4) - 8);
    }
  }
}

bool DecodeQ2_0(const std::uint8_t* block, TernaryBlock& out) {
  out.scale_f16 = LoadU16(block);
  for (std::size_t j = 0; j < kQ2_0Block; ++j) {
    const int q = (block[2 + j / 4] >> (2 * (j % 4))) & 3;
    if (q == 3) return false;
    out.codes[j] = static_cast<std::int8_t>(q - 1);
  }
  return true;
}

void EncodeQ2_0(const TernaryBlock& block, std::uint8_t* out) {
  StoreU16(block.scale_f16, out);
  std::memset(out + 2, 0, kQ2_0Block / 4);
  for (std::size_t j = 0; j < kQ2_0Block; ++j) {
    out[2 + j / 4] |= static_cast<std::uint8_t>((block.codes[j] + 1) << (2 * (j % 4)));
  }
}

bool DecodeTQ2_0(const std::uint8_t* block, TernaryBlock& out) {
  for (int c = 0; c < 2; ++c) {
    for (int l = 0; l < 4; ++l) {
      for (int m = 0; m < 32; ++m) {
        const int q = (block[32 * c + m] >> (2 * l)) & 3;
        if (q == 3) return false;
        out.codes[128 * c + 32 * l + m] = static_cast<std::int8_t>(q - 1);
      }
    }
  }
  out.scale_f16 = LoadU16(block + 64);
  return true;
}

void EncodeTQ2_0(const TernaryBlock& block, std::uint8_t* out) {
  std::memset(out, 0, 64);
  for (int c = 0; c < 2; ++c) {
    for (int l = 0; l < 4; ++l) {
      for (int m = 0; m < 32; ++m) {
        const int q = block.codes[128 * c + 32 * l + m] + 1;
        out[32 * c + m] |= static_cast<std::uint8_t>(q << (2 * l));
      }
    }
  }
  StoreU16(block.scale_f16, out + 64);
}

void DecodeTQ1_0(const std::uint8_t* block, TernaryBlock& out) {
  for (int n = 0; n < 5; ++n) {
    for (int m = 0; m < 32; ++m)
      out.codes[32 * n + m] = static_cast<std::int8_t>(Trit(block[m], n) - 1);
    for (int m = 0; m < 16; ++m) {
      out.codes[160 + 16 * n + m] = static_cast<std::int8_t>(Trit(block[32 + m], n) - 1);
    }
  }
  for (int n = 0; n < 4; ++n) {
    for (int j = 0; j < 4; ++j) {
      out.codes[240 + 4 * n + j] = static_cast<std::int8_t>(Trit(block[48 + j], n) - 1);
    }
  }
  out.scale_f16 = LoadU16(block + 52);
}

void EncodeTQ1_0(const TernaryBlock& block, std::uint8_t* out) {
  for (int m = 0; m < 32; ++m) {
    int t[5];
    for (int n = 0; n < 5; ++n) t[n] = block.codes[32 * n + m] + 1;
    out[m] = TritByte(t);
  }
  for (int m = 0; m < 16; ++m) {
    int t[5];
    for (int n = 0; n < 5; ++n) t[n] = block.codes[160 + 16 * n + m] + 1;
    out[32 + m] = TritByte(t);
  }
  for (int j = 0; j < 4; ++j) {
    // Four trits, shifted up one place so the first is the most significant of five.
    int t[5] = {0, 0, 0, 0, 0};
    for (int n = 0; n < 4; ++n) t[n] = block.codes[240 + 4 * n + j] + 1;
    out[48 + j] = TritByte(t);
  }
  StoreU16(block.scale_f16, out + 52);
}

bool DequantizeToF32(std::uint32_t type, absl::Span<const std::uint8_t> bytes,
                     absl::Span<float> out) {
  switch (static_cast<GgmlType>(type)) {
    case GgmlType::kF32:
      std::memcpy(out.data(), bytes.data(), out.size() * sizeof(float));
      return true;
    case GgmlType::kF16:
    case GgmlType::kBF16:
      for (std::size_t i = 0; i < out.size(); ++i) {
        const std::uint16_t bits = LoadU16(bytes.data() + 2 * i);
        if (static_cast<GgmlType>(type) == GgmlType::kF16) {
          out[i] = HalfToFloat(bits);
        } else {
          const std::uint32_t wide = static_cast<std::uint32_t>(bits) << 16;
          std::memcpy(&out[i], &wide, sizeof(float));
        }
      }
      return true;
    case GgmlType::kQ8_0:
      DequantizeQ8_0(bytes, out);
      return true;
    case GgmlType::kQ4_0:
      DequantizeQ4_0(bytes, out);
      return true;
    case GgmlType::kQ2_0:
      for (std::size_t b = 0; b * kQ2_0Block < out.size(); ++b) {
        const std::uint8_t* block = bytes.data() + b * 18;
        const float d = HalfToFloat(LoadU16(block));
        for (std::size_t j = 0; j < kQ2_0Block; ++j) {
          const int q = (block[2 + j / 4] >> (2 * (j % 4))) & 3;  // 3 is +2 here
          out[b * kQ2_0Block + j] = d * static_cast<float>(q - 1);
        }
      }
      return true;
    case GgmlType::kTQ2_0:
    case GgmlType::kTQ1_0: {
      const bool tq2 = static_cast<GgmlType>(type) == GgmlType::kTQ2_0;
      TernaryBlock block;
      for (std::size_t b = 0; b * kTQBlock < out.size(); ++b) {
        const std::uint8_t* p = bytes.data() + b * (tq2 ? 66 : 54);
        if (tq2) {
          // A code of 3 decodes to +2 in ggml; DecodeTQ2_0 refuses it, so read it here.
          for (int c = 0; c < 2; ++c) {
            for (int l = 0; l < 4; ++l) {
              for (int m = 0; m < 32; ++m) {
                block.codes[128 * c + 32 * l + m] =
                    static_cast<std::int8_t>(((p[32 * c + m] >> (2 * l)) & 3) - 1);
              }
            }
          }
          block.scale_f16 = LoadU16(p + 64);
        } else {
          DecodeTQ1_0(p, block);
        }
        const float d = HalfToFloat(block.scale_f16);
        for (std::size_t j = 0; j < kTQBlock; ++j) {
          out[b * kTQBlock + j] = d * static_cast<float>(block.codes[j]);
        }
      }
      return true;
    }
  }
  return false;
}

}  // namespace ghost
