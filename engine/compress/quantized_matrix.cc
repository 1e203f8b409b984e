#include "engine/compress/quantized_matrix.h"

#include <algorithm>
#include <array>

#include "absl/strings/str_cat.h"
#include "engine/compress/codebook.h"
#include "kernels/cpu/matmul.h"

namespace ghost::compress {
namespace {

bool IsFiniteNonNegativeF16(std::uint16_t bits) { return bits < 0x7c00u; }
bool IsFiniteF16(std::uint16_t bits) { return (bits & 0x7fffu) < 0x7c00u; }

absl::Status SizeError(const char* field, std::size_t got, std::size_t want) {
  return absl::InvalidArgumentError(absl::StrCat("quantized matrix: ", field, " holds ", got,
                                                 " values, the layout needs ", want));
}

// The first invalid code byte, if any: stored 2-bit value 3 in ternary-2bit, or a base-3
// byte above 242.
absl::Status CheckCodes(const QuantizedMatrix& m) {
  for (std::size_t i = 0; i < m.codes.size(); ++i) {
    const std::uint8_t byte = m.codes[i];
    bool valid = true;
    if (m.format == WeightFormat::kTernary2Bit) {
      // A field holds 3 where both of its bits are set.
      valid = (byte & (byte >> 1) & 0x55u) == 0;
    } else if (m.format == WeightFormat::kTernaryBase3) {
      valid = byte <= 242;
    }
    if (!valid) {
      return absl::InvalidArgumentError(absl::StrCat("quantized matrix: code byte ", i, " (", byte,
                                                     ") is invalid for ",
                                                     WeightFormatName(m.format)));
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::size_t QuantizedMatrix::blocks_per_row() const { return (cols + block_size - 1) / block_size; }

std::size_t QuantizedMatrix::block_bytes() const { return BytesPerBlock(format, block_size); }

std::size_t QuantizedMatrix::code_bytes_per_row() const { return blocks_per_row() * block_bytes(); }

std::size_t QuantizedMatrix::blocks_per_super_block() const { return kSuperBlockSize / block_size; }

std::size_t QuantizedMatrix::scales_per_row() const {
  if (scale_scheme == ScaleScheme::kF16PerBlock) return blocks_per_row();
  return (blocks_per_row() + blocks_per_super_block() - 1) / blocks_per_super_block();
}

std::size_t QuantizedMatrix::sub_scale_bytes_per_row() const {
  if (scale_scheme == ScaleScheme::kF16PerBlock) return 0;
  return BytesForBits(blocks_per_row(), sub_scale_bits);
}

std::size_t QuantizedMatrix::num_codebook_groups() const {
  if (TraitsOf(format).reconstruction != Reconstruction::kScaleTimesCodebookEntry) return 0;
  return (rows + codebook_group_rows - 1) / codebook_group_rows;
}

float QuantizedMatrix::BlockScale(std::size_t row, std::size_t block) const {
  if (scale_scheme == ScaleScheme::kF16PerBlock) {
    return kernels::F16ToF32(scales[row * blocks_per_row() + block]);
  }
  const float super =
      kernels::F16ToF32(scales[row * scales_per_row() + block / blocks_per_super_block()]);
  const absl::Span<const std::uint8_t> stream(sub_scales.data() + row * sub_scale_bytes_per_row(),
                                              sub_scale_bytes_per_row());
  return TwoLevelBlockScale(super, ReadBits(stream, block, sub_scale_bits), sub_scale_bits);
}

std::size_t QuantizedMatrix::StorageBytes() const {
  return codes.size() + scales.size() * sizeof(std::uint16_t) + sub_scales.size() +
         codebook.size() * sizeof(std::uint16_t);
}

double QuantizedMatrix::BitsPerWeight() const {
  return 8.0 * static_cast<double>(StorageBytes()) / static_cast<double>(rows * cols);
}

absl::Status QuantizedMatrix::Validate() const {
  if (rows == 0 || cols == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("quantized matrix: shape ", rows, "x", cols, " is empty"));
  }
  if (!IsBlockQuantized(format)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "quantized matrix: format ", WeightFormatName(format), " is not block-quantized"));
  }
  if (std::find(kBlockSizes.begin(), kBlockSizes.end(), block_size) == kBlockSizes.end()) {
    return absl::InvalidArgumentError(absl::StrCat("quantized matrix: block_size ", block_size,
                                                   " is not 16, 32, 64, 128 or 256"));
  }
  const bool two_level = scale_scheme == ScaleScheme::kTwoLevel;
  if (two_level ? (sub_scale_bits != 4 && sub_scale_bits != 6) : sub_scale_bits != 0) {
    return absl::InvalidArgumentError(absl::StrCat("quantized matrix: sub_scale_bits ",
                                                   sub_scale_bits, " with ",
                                                   ScaleSchemeName(scale_scheme), " scales"));
  }
  const bool has_codebook =
      TraitsOf(format).reconstruction == Reconstruction::kScaleTimesCodebookEntry;
  if (has_codebook != (codebook_group_rows > 0)) {
    return absl::InvalidArgumentError(absl::StrCat("quantized matrix: codebook_group_rows ",
                                                   codebook_group_rows, " with format ",
                                                   WeightFormatName(format)));
  }
  if (codes.size() != rows * code_bytes_per_row()) {
    return SizeError("codes", codes.size(), rows * code_bytes_per_row());
  }
  if (scales.size() != rows * scales_per_row()) {
    return SizeError("scales", scales.size(), rows * scales_per_row());
  }
  if (sub_scales.size() != rows * sub_scale_bytes_per_row()) {
    return SizeError("sub_scales", sub_scales.size(), rows * sub_scale_bytes_per_row());
  }
  if (codebook.size() != kCodebookSize * num_codebook_groups()) {
    return SizeError("codebook", codebook.size(), kCodebookSize * num_codebook_groups());
  }
  if (!std::all_of(scales.begin(), scales.end(), IsFiniteNonNegativeF16)) {
    return absl::InvalidArgumentError("quantized matrix: a scale is negative, Inf or NaN");
  }
  if (!std::all_of(codebook.begin(), codebook.end(), IsFiniteF16)) {
    return absl::InvalidArgumentError("quantized matrix: a codebook entry is Inf or NaN");
  }
  return CheckCodes(*this);
}

void DequantizeRow(const QuantizedMatrix& m, std::size_t row, absl::Span<float> out) {
  const WeightFormatTraits& traits = TraitsOf(m.format);
  std::array<float, 4> entries = {-1.0f, 0.0f, 1.0f, 0.0f};  // code + 1 -> value (ternary)
  int offset = 1;
  if (traits.reconstruction == Reconstruction::kScaleTimesCodebookEntry) {
    const std::size_t group = row / m.codebook_group_rows;
    for (int i = 0; i < kCodebookSize; ++i) {
      entries[i] = kernels::F16ToF32(m.codebook[kCodebookSize * group + i]);
    }
    offset = 0;
  }
  std::array<std::int8_t, kMaxBlockSize> codes;
  const std::uint8_t* row_codes = m.codes.data() + row * m.code_bytes_per_row();
  for (std::size_t b = 0; b < m.blocks_per_row(); ++b) {
    const std::size_t first = b * m.block_size;
    const std::size_t length = std::min(m.block_size, m.cols - first);
    traits.unpack(absl::MakeConstSpan(row_codes + b * m.block_bytes(), m.block_bytes()),
                  absl::MakeSpan(codes.data(), length));
    const float scale = m.BlockScale(row, b);
    for (std::size_t j = 0; j < length; ++j) out[first + j] = scale * entries[codes[j] + offset];
  }
}

std::vector<float> Dequantize(const QuantizedMatrix& m) {
  std::vector<float> out(m.rows * m.cols);
  for (std::size_t r = 0; r < m.rows; ++r) {
    DequantizeRow(m, r, absl::MakeSpan(out.data() + r * m.cols, m.cols));
  }
  return out;
}

}  // namespace ghost::compress
