// Weight formats: every precision a weight matrix can be stored and served in, one enum and
// one constexpr traits table indexed by it. Kernels, quantizers, the checkpoint reader, the
// loader and the benchmarks all name a format through this table and compute its sizes here.
//
// A code is one stored weight before scaling: the value itself in a dense format (f32, bf16,
// f16), or, in a block-quantized format, a ternary code in {-1, 0, +1} or a codebook index in
// {0, 1, 2, 3}. A block-quantized row of `cols` weights is cut into blocks of block_size
// weights (one scale each; the last block short when block_size does not divide cols), and
// every block's codes start on a byte boundary: BytesPerBlock() bytes, bit layout in
// packing.h. Scales and codebooks are stored beside the codes (compress/quantized_matrix.h
// on disk, kernels::QuantWeights once loaded) and are not counted here.
#ifndef GHOST_ENGINE_FORMATS_WEIGHT_FORMAT_H_
#define GHOST_ENGINE_FORMATS_WEIGHT_FORMAT_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string_view>

#include "absl/types/span.h"

namespace ghost {

enum class WeightFormat {
  kF32,
  kBF16,
  kF16,           // IEEE half precision
  kTernary2Bit,   // 2-bit ternary codes, fp16 block scales
  kTernaryBase3,  // 5 ternary codes per byte (1.6 bits), fp16 block scales
  kCodebook2Bit,  // 2-bit indices into 4 fp16 entries per row group, fp16 block scales
};

// Weights per block (one scale each) that every block-quantized format supports.
inline constexpr std::array<std::size_t, 5> kBlockSizes = {16, 32, 64, 128, 256};
inline constexpr std::size_t kMaxBlockSize = 256;

// How a weight is rebuilt from what is stored.
enum class Reconstruction {
  kStoredValue,              // w = the code, widened to fp32
  kScaleTimesCode,           // w = scale * code, code in {-1, 0, +1}
  kScaleTimesCodebookEntry,  // w = scale * codebook[code], 4 fp16 entries per row group
};

using PackFn = void (*)(absl::Span<const std::int8_t> codes, absl::Span<std::uint8_t> out);
using UnpackFn = void (*)(absl::Span<const std::uint8_t> packed, absl::Span<std::int8_t> codes);

struct WeightFormatTraits {
  WeightFormat format;
  // As written in config.json ("format"), taken by CLI flags and printed by ghostbench.
  const char* name;
  // Stored in blocks of codes with a scale each; served as a kernels::QuantWeights.
  bool block_quantized;
  Reconstruction reconstruction;
  int bytes_per_code;  // Dense formats: 4 or 2. Block-quantized: 0 (a byte holds several).
  int codes_per_byte;  // Block-quantized: 4 (2 bits each) or 5 (base 3). Dense: 0.
  // Block-quantized only (nullptr for dense formats), see packing.h: pack writes
  // BytesPerBlock(format, codes.size()) bytes; unpack reads codes.size() codes.
  PackFn pack;
  UnpackFn unpack;
};

namespace internal {
// The table's entries; call them through PackCodes()/UnpackCodes() (packing.h).
void PackTernary2Bit(absl::Span<const std::int8_t> codes, absl::Span<std::uint8_t> out);
void UnpackTernary2Bit(absl::Span<const std::uint8_t> packed, absl::Span<std::int8_t> codes);
void PackBase3(absl::Span<const std::int8_t> codes, absl::Span<std::uint8_t> out);
void UnpackBase3(absl::Span<const std::uint8_t> packed, absl::Span<std::int8_t> codes);
void PackIndex2Bit(absl::Span<const std::int8_t> codes, absl::Span<std::uint8_t> out);
void UnpackIndex2Bit(absl::Span<const std::uint8_t> packed, absl::Span<std::int8_t> codes);
}  // namespace internal

// The traits table, indexed by WeightFormat; constexpr so kernels can specialise on it.
inline constexpr WeightFormatTraits kWeightFormats[] = {
    {WeightFormat::kF32, "f32", false, Reconstruction::kStoredValue, 4, 0, nullptr, nullptr},
    {WeightFormat::kBF16, "bf16", false, Reconstruction::kStoredValue, 2, 0, nullptr, nullptr},
    {WeightFormat::kF16, "f16", false, Reconstruction::kStoredValue, 2, 0, nullptr, nullptr},
    {WeightFormat::kTernary2Bit, "ternary-2bit", true, Reconstruction::kScaleTimesCode, 0, 4,
     internal::PackTernary2Bit, internal::UnpackTernary2Bit},
    {WeightFormat::kTernaryBase3, "ternary-base3", true, Reconstruction::kScaleTimesCode, 0, 5,
     internal::PackBase3, internal::UnpackBase3},
    {WeightFormat::kCodebook2Bit, "codebook-2bit", true, Reconstruction::kScaleTimesCodebookEntry,
     0, 4, internal::PackIndex2Bit, internal::UnpackIndex2Bit},
};

namespace internal {
constexpr bool TableIsConsistent() {
  for (std::size_t i = 0; i < std::size(kWeightFormats); ++i) {
    const WeightFormatTraits& t = kWeightFormats[i];
    if (static_cast<std::size_t>(t.format) != i) return false;
    const bool dense = t.reconstruction == Reconstruction::kStoredValue;
    if (t.block_quantized == dense) return false;
    if (dense != (t.bytes_per_code > 0 && t.codes_per_byte == 0)) return false;
    if (t.block_quantized != (t.codes_per_byte > 0)) return false;
    // Only the dense side of the packing rule is checked here: GCC cannot fold a function's
    // address against null when -fsanitize=null (the ASan+UBSan build) disables null-pointer
    // assumptions, so FormatTest.EveryEntryOfTheTable checks the block formats' packings.
    if (dense && (t.pack != nullptr || t.unpack != nullptr)) return false;
  }
  return true;
}
}  // namespace internal

// kCodebook2Bit is the last enumerator.
static_assert(std::size(kWeightFormats) ==
                  static_cast<std::size_t>(WeightFormat::kCodebook2Bit) + 1,
              "kWeightFormats must have one entry per WeightFormat");
static_assert(internal::TableIsConsistent(),
              "kWeightFormats must be in WeightFormat order, dense entries with bytes per code "
              "and no packing, block-quantized ones with codes per byte");

constexpr const WeightFormatTraits& TraitsOf(WeightFormat format) {
  return kWeightFormats[static_cast<std::size_t>(format)];
}

constexpr const char* WeightFormatName(WeightFormat format) { return TraitsOf(format).name; }

constexpr bool IsBlockQuantized(WeightFormat format) { return TraitsOf(format).block_quantized; }

// Bits one code takes in storage: 32 or 16 dense, 2 for the 2-bit formats, 8/5 for base 3
// (before block padding).
constexpr double BitsPerCode(WeightFormat format) {
  const WeightFormatTraits& t = TraitsOf(format);
  return t.block_quantized ? 8.0 / t.codes_per_byte : 8.0 * t.bytes_per_code;
}

// Bytes holding the codes of one block of block_size weights: ceil(block_size /
// codes_per_byte). Any count of codes packs into BytesPerBlock(format, count) bytes.
// Requires IsBlockQuantized(format).
constexpr std::size_t BytesPerBlock(WeightFormat format, std::size_t block_size) {
  const auto per_byte = static_cast<std::size_t>(TraitsOf(format).codes_per_byte);
  return (block_size + per_byte - 1) / per_byte;
}

// Code bytes of one row of `cols` weights: ceil(cols / block_size) blocks of BytesPerBlock()
// for a block-quantized format; cols * bytes_per_code for a dense one (block_size unused).
constexpr std::size_t BytesPerRow(WeightFormat format, std::size_t cols, std::size_t block_size) {
  const WeightFormatTraits& t = TraitsOf(format);
  if (!t.block_quantized) return cols * static_cast<std::size_t>(t.bytes_per_code);
  return (cols + block_size - 1) / block_size * BytesPerBlock(format, block_size);
}

// The format named `name` (a kWeightFormats name, exact), or nullopt.
std::optional<WeightFormat> ParseWeightFormat(std::string_view name);

}  // namespace ghost

#endif  // GHOST_ENGINE_FORMATS_WEIGHT_FORMAT_H_
