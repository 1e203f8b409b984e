// A quantized weight matrix and its reference decoder. Rows are independent (a kernel or
// the sparse-MLP row packer can address any row alone) and laid out one after another.
// The stored form of a low-bit matrix; kernels::QuantWeights is its kernel-ready form.
//
// A row of `cols` weights is cut into blocks_per_row = ceil(cols / block_size) blocks. When
// cols is not a multiple of block_size the last block of every row is short: its codes are
// packed as if the block were full, padding codes (formats/packing.h) past the end of the row.
// Padding is not weight data: decoders stop at cols, or process the whole block against
// inputs zero-padded to blocks_per_row * block_size (the codebook's entry 0 need not be 0).
//
//   codes       rows * code_bytes_per_row() bytes; block b of row r starts at byte
//               r * code_bytes_per_row() + b * block_bytes(); bit layout in formats/packing.h.
//   scales      fp16 bits. fp16 scheme: one per block, index r * blocks_per_row() + b.
//               two-level: one super scale per super-block, index
//               r * scales_per_row() + b / blocks_per_super_block().
//   sub_scales  two-level only: rows * sub_scale_bytes_per_row() bytes, one bit stream of
//               blocks_per_row() values per row (scales.h).
//   codebook    codebook format only: 4 fp16 entries, ascending, per group of
//               codebook_group_rows consecutive rows (the last group may be smaller);
//               group g's entries at 4 * g.
//
// Weight (r, c), with b = c / block_size and code the c % block_size-th code of block b:
//   ternary:   BlockScale(r, b) * code
//   codebook:  BlockScale(r, b) * F16ToF32(codebook[4 * (r / codebook_group_rows) + code])
#ifndef GHOST_ENGINE_COMPRESS_QUANTIZED_MATRIX_H_
#define GHOST_ENGINE_COMPRESS_QUANTIZED_MATRIX_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "engine/compress/scales.h"
#include "engine/formats/weight_format.h"

namespace ghost::compress {

struct QuantizedMatrix {
  std::size_t rows = 0;
  std::size_t cols = 0;
  WeightFormat format = WeightFormat::kTernary2Bit;  // block-quantized
  std::size_t block_size = 16;
  ScaleScheme scale_scheme = ScaleScheme::kF16PerBlock;
  int sub_scale_bits = 0;               // two-level: 4 or 6; fp16: 0
  std::size_t codebook_group_rows = 0;  // codebook format: >= 1; ternary: 0

  std::vector<std::uint8_t> codes;
  std::vector<std::uint16_t> scales;
  std::vector<std::uint8_t> sub_scales;
  std::vector<std::uint16_t> codebook;

  // Layout, from the fields above.
  std::size_t blocks_per_row() const;
  std::size_t block_bytes() const;
  std::size_t code_bytes_per_row() const;
  std::size_t blocks_per_super_block() const;  // two-level: 256 / block_size
  std::size_t scales_per_row() const;
  std::size_t sub_scale_bytes_per_row() const;
  std::size_t num_codebook_groups() const;

  // The scale block b of row r decodes with.
  float BlockScale(std::size_t row, std::size_t block) const;

  // Every byte stored (codes, scales, sub-scales, codebooks) and the bits per weight they
  // make: 8 * StorageBytes() / (rows * cols), padding and all.
  std::size_t StorageBytes() const;
  double BitsPerWeight() const;

  // Checks the fields, the array sizes and that every code byte is valid for the format;
  // INVALID_ARGUMENT names the first problem. Decoders require a valid matrix.
  [[nodiscard]] absl::Status Validate() const;
};

// Row r of the reconstruction into out (cols values). Requires m.Validate().ok().
void DequantizeRow(const QuantizedMatrix& m, std::size_t row, absl::Span<float> out);

// The whole reconstruction, row-major [rows, cols]: the reference every kernel is tested
// against. Requires m.Validate().ok().
[[nodiscard]] std::vector<float> Dequantize(const QuantizedMatrix& m);

}  // namespace ghost::compress

#endif  // GHOST_ENGINE_COMPRESS_QUANTIZED_MATRIX_H_
