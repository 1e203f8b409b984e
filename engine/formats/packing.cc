#include "engine/formats/packing.h"

#include <cstring>

namespace ghost {
namespace {

// 2 bits per code, code j at bits 2 * (j % 4) of byte j / 4. kOffset maps a code to its
// stored value: 1 for ternary (-1..1 -> 0..2), 0 for codebook indices.
template <int kOffset>
void Pack2Bit(absl::Span<const std::int8_t> codes, absl::Span<std::uint8_t> out) {
  const std::size_t n = codes.size();
  std::memset(out.data(), 0, (n + 3) / 4);
  for (std::size_t j = 0; j < n; ++j) {
    out[j / 4] |= static_cast<std::uint8_t>((codes[j] + kOffset) << (2 * (j % 4)));
  }
}

template <int kOffset>
void Unpack2Bit(absl::Span<const std::uint8_t> packed, absl::Span<std::int8_t> codes) {
  for (std::size_t j = 0; j < codes.size(); ++j) {
    codes[j] = static_cast<std::int8_t>(((packed[j / 4] >> (2 * (j % 4))) & 3) - kOffset);
  }
}

constexpr std::array<Base3Digits, 256> MakeBase3Table() {
  std::array<Base3Digits, 256> table{};
  for (int byte = 0; byte < 243; ++byte) {
    int rest = byte;
    for (int i = 0; i < 5; ++i) {
      table[byte][i] = static_cast<std::uint8_t>(rest % 3);
      rest /= 3;
    }
  }
  return table;
}

constexpr std::array<Base3Digits, 256> kBase3Table = MakeBase3Table();

}  // namespace

void PackCodes(WeightFormat format, absl::Span<const std::int8_t> codes,
               absl::Span<std::uint8_t> out) {
  TraitsOf(format).pack(codes, out);
}

void UnpackCodes(WeightFormat format, absl::Span<const std::uint8_t> packed,
                 absl::Span<std::int8_t> codes) {
  TraitsOf(format).unpack(packed, codes);
}

const std::array<Base3Digits, 256>& Base3Table() { return kBase3Table; }

namespace internal {

void PackTernary2Bit(absl::Span<const std::int8_t> codes, absl::Span<std::uint8_t> out) {
  Pack2Bit<1>(codes, out);
}
void UnpackTernary2Bit(absl::Span<const std::uint8_t> packed, absl::Span<std::int8_t> codes) {
  Unpack2Bit<1>(packed, codes);
}
void PackIndex2Bit(absl::Span<const std::int8_t> codes, absl::Span<std::uint8_t> out) {
  Pack2Bit<0>(codes, out);
}
void UnpackIndex2Bit(absl::Span<const std::uint8_t> packed, absl::Span<std::int8_t> codes) {
  Unpack2Bit<0>(packed, codes);
}

void PackBase3(absl::Span<const std::int8_t> codes, absl::Span<std::uint8_t> out) {
  constexpr int kPowers[5] = {1, 3, 9, 27, 81};
  const std::size_t n = codes.size();
  for (std::size_t byte = 0; byte * 5 < n; ++byte) {
    int value = 0;
    for (int i = 0; i < 5; ++i) {
      const std::size_t j = byte * 5 + i;
      const int trit = j < n ? codes[j] + 1 : 1;  // Padding is code 0.
      value += trit * kPowers[i];
    }
    out[byte] = static_cast<std::uint8_t>(value);
  }
}

void UnpackBase3(absl::Span<const std::uint8_t> packed, absl::Span<std::int8_t> codes) {
  const std::size_t n = codes.size();
  std::size_t j = 0;
  for (std::size_t byte = 0; j < n; ++byte) {
    const Base3Digits& digits = kBase3Table[packed[byte]];
    for (int i = 0; i < 5 && j < n; ++i, ++j) codes[j] = static_cast<std::int8_t>(digits[i] - 1);
  }
}

}  // namespace internal

}  // namespace ghost
