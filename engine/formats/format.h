// Quantized weight formats: one constexpr traits table, and the packing of codes into bytes.
//
// A code is one quantized weight before packing: a ternary code in {-1, 0, +1}, or a
// codebook index in {0, 1, 2, 3}. Codes of one row are packed block by block; every block
// starts on a byte boundary and takes BytesForCodes(format, block_size) bytes.
//
// Bit layout (the CPU and CUDA kernels decode exactly this):
//   ternary-2bit   4 codes per byte. Code j of a block is in byte j / 4, bits
//                  2 * (j % 4) .. 2 * (j % 4) + 1 (little-endian within the byte), stored
//                  as code + 1: -1 -> 0, 0 -> 1, +1 -> 2. The value 3 is invalid.
//   codebook-2bit  same positions; the stored value is the codebook index 0..3.
//   ternary-base3  5 codes per byte. Code j of a block is in byte j / 5 as the base-3 digit
//                  i = j % 5: byte = sum_i t_i * 3^i with t_i = code_i + 1 in {0, 1, 2}, so a
//                  byte is at most 242; 243..255 are invalid. The last byte of a block whose
//                  length is not a multiple of 5 is padded with t = 1 (code 0).
// Padding codes (past the end of a row, see quantized_matrix.h) are code 0 for ternary
// formats and index 0 for the codebook format.
#ifndef GHOST_ENGINE_FORMATS_FORMAT_H_
#define GHOST_ENGINE_FORMATS_FORMAT_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <iterator>

#include "absl/types/span.h"

namespace ghost::compress {

enum class QuantFormat { kTernary2Bit, kTernaryBase3, kCodebook2Bit };

// Weights per block (one scale each) that every format supports.
inline constexpr std::array<std::size_t, 5> kBlockSizes = {16, 32, 64, 128, 256};
inline constexpr std::size_t kMaxBlockSize = 256;

// How a weight is rebuilt from its block scale and its code.
enum class Reconstruction {
  kScaleTimesCode,           // w = scale * code, code in {-1, 0, +1}
  kScaleTimesCodebookEntry,  // w = scale * codebook[code], 4 fp16 entries per row group
};

using PackFn = void (*)(absl::Span<const std::int8_t> codes, absl::Span<std::uint8_t> out);
using UnpackFn = void (*)(absl::Span<const std::uint8_t> packed, absl::Span<std::int8_t> codes);

struct FormatTraits {
  QuantFormat format;
  const char* name;
  int codes_per_byte;  // 4 (2 bits each) or 5 (base 3)
  Reconstruction reconstruction;
  // Packs codes.size() codes into the first BytesForCodes() bytes of out.
  PackFn pack;
  // Unpacks codes.size() codes from packed.
  UnpackFn unpack;
};

// Code bits in storage: 2 for the 2-bit formats, 8/5 for base 3 (before block padding).
constexpr double BitsPerCode(const FormatTraits& traits) { return 8.0 / traits.codes_per_byte; }

namespace format_internal {
// The table's entries; call them through TraitsOf() or PackCodes()/UnpackCodes().
void PackTernary2Bit(absl::Span<const std::int8_t> codes, absl::Span<std::uint8_t> out);
void UnpackTernary2Bit(absl::Span<const std::uint8_t> packed, absl::Span<std::int8_t> codes);
void PackBase3(absl::Span<const std::int8_t> codes, absl::Span<std::uint8_t> out);
void UnpackBase3(absl::Span<const std::uint8_t> packed, absl::Span<std::int8_t> codes);
void PackIndex2Bit(absl::Span<const std::int8_t> codes, absl::Span<std::uint8_t> out);
void UnpackIndex2Bit(absl::Span<const std::uint8_t> packed, absl::Span<std::int8_t> codes);
}  // namespace format_internal

// The traits table, indexed by QuantFormat; constexpr so kernels can specialise on it.
inline constexpr FormatTraits kFormats[] = {
    {QuantFormat::kTernary2Bit, "ternary-2bit", 4, Reconstruction::kScaleTimesCode,
     format_internal::PackTernary2Bit, format_internal::UnpackTernary2Bit},
    {QuantFormat::kTernaryBase3, "ternary-base3", 5, Reconstruction::kScaleTimesCode,
     format_internal::PackBase3, format_internal::UnpackBase3},
    {QuantFormat::kCodebook2Bit, "codebook-2bit", 4, Reconstruction::kScaleTimesCodebookEntry,
     format_internal::PackIndex2Bit, format_internal::UnpackIndex2Bit},
};

constexpr bool FormatTableMatchesEnum() {
  for (std::size_t i = 0; i < std::size(kFormats); ++i) {
    if (static_cast<std::size_t>(kFormats[i].format) != i) return false;
  }
  return true;
}
static_assert(std::size(kFormats) == static_cast<std::size_t>(QuantFormat::kCodebook2Bit) + 1,
              "kFormats must have one entry per QuantFormat");
static_assert(FormatTableMatchesEnum(), "kFormats must be in QuantFormat order");

constexpr const FormatTraits& TraitsOf(QuantFormat format) {
  return kFormats[static_cast<std::size_t>(format)];
}

// Bytes holding n codes of one block: ceil(n / codes_per_byte).
constexpr std::size_t BytesForCodes(QuantFormat format, std::size_t n) {
  const auto per_byte = static_cast<std::size_t>(TraitsOf(format).codes_per_byte);
  return (n + per_byte - 1) / per_byte;
}

const char* FormatName(QuantFormat format);

// Convenience wrappers over the table's functions. Contract: out / packed hold at least
// BytesForCodes(format, codes.size()) bytes; ternary codes are in {-1, 0, 1} and codebook
// codes in {0, 1, 2, 3}. Unpacking an invalid byte (see above) gives unspecified codes;
// QuantizedMatrix::Validate() rejects such bytes.
void PackCodes(QuantFormat format, absl::Span<const std::int8_t> codes,
               absl::Span<std::uint8_t> out);
void UnpackCodes(QuantFormat format, absl::Span<const std::uint8_t> packed,
                 absl::Span<std::int8_t> codes);

// The five stored digits t_i (0..2) of a base-3 byte, least significant first; kernels
// decode with this table instead of dividing. Entries 243..255 are all zero.
using Base3Digits = std::array<std::uint8_t, 5>;
const std::array<Base3Digits, 256>& Base3Table();

}  // namespace ghost::compress

#endif  // GHOST_ENGINE_FORMATS_FORMAT_H_
