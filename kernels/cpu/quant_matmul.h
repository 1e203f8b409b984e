// Matrix products with low-bit weights (ternary 2-bit, ternary base-3, 2-bit codebook) and
// fp32 activations. Plain C++ like matmul.h: no engine types but the weight format table.
//
// Storage format (what QuantMatrixView describes; engine/formats/packing.h is the owner):
// rows are independent; a row of `cols` weights is cut into blocks of block_size weights,
// the last one short when block_size does not divide cols (padding codes past cols). Every
// block's codes start on a byte boundary.
//   kTernary2Bit   4 codes per byte, code j in bits 2*(j%4) of byte j/4, stored code + 1.
//   kTernaryBase3  5 codes per byte: byte = sum_i t_i 3^i over codes 5k + i, t = code + 1.
//   kCodebook2Bit  2-bit index (positions as kTernary2Bit) into 4 fp16 entries per row group.
// Only these block-quantized WeightFormats have a QuantWeights; the caller never builds one
// for a dense format (IsBlockQuantized() is false: f32, bf16, f16 go to matmul.h).
// Weight (r, c) = scale[r, c / block_size] * code (ternary) or * codebook[group(r)][index].
//
// The kernels quantize each activation row to int8 (one scale per row, round to nearest)
// and take integer dot products per block; every variant computes exactly the same
// integers, so they differ from each other only by fp32 summation order. Against the exact
// product, each activation is off by at most max|x| / 254, and codebook entries are rounded
// to 7-bit steps between the smallest and largest entry of their group (the bound is
// Int8DotErrorBound in tests/kernels/random_quant_matrix.h).
//
// MatMulQuantF32 keeps the activations in fp32: every weight is decoded to fp32 (the block
// scale times the ternary value, or times the exact fp16 codebook entry) and multiplied
// with fp32 FMAs, so that its only error is fp32 summation order, at the cost of one
// multiply-add per weight and token (3-4x the int8 path's time at n = 1, 2-3x at n = 8; see
// `ghostbench kernels`).
#ifndef GHOST_KERNELS_CPU_QUANT_MATMUL_H_
#define GHOST_KERNELS_CPU_QUANT_MATMUL_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/formats/weight_format.h"
#include "kernels/cpu/huge_page_allocator.h"
#include "kernels/cpu/matmul.h"

namespace ghost::kernels {

// The storage layout above, not owned.
struct QuantMatrixView {
  WeightFormat format = WeightFormat::kTernary2Bit;  // block-quantized
  std::size_t rows = 0;
  std::size_t cols = 0;
  std::size_t block_size = 64;              // 16, 32, 64, 128 or 256
  const std::uint8_t* codes = nullptr;      // row r at codes + r * BytesPerRow(format, ...)
  const std::uint16_t* scales = nullptr;    // fp16 bits, index r * blocks_per_row + b
  const std::uint16_t* codebook = nullptr;  // codebook only: 4 fp16 per row group
  std::size_t codebook_group_rows = 0;      // codebook only
};

// How QuantWeights stores a row, for the kernels (and for tests that check the packing).
// Blocks go in groups of kQuantGroupBlocks; inside a group the blocks' codes are
// interleaved 4 bytes at a time, so that 32-bit lane b of a 64-byte load holds block b
// and an integer dot product accumulates each block in its own lane. A block's bytes are
// `full_words` 4-byte words followed by `tail_bytes` (0..2) bytes; the tails of a group are
// packed after its words, tail_bytes per block. A group of gb blocks takes gb * block_bytes
// bytes: word w of block b at w * 4 * gb + 4 * b, tail byte i at
// full_words * 4 * gb + tail_bytes * b + i. Base-3 bytes are stored as ceil(byte * 256 / 243)
// so that a digit is ((stored * 3^k) mod 256) * 3 / 256 (no division in the kernels).
inline constexpr std::size_t kQuantGroupBlocks = 16;

struct QuantLayout {
  std::size_t blocks_per_row = 0;
  std::size_t groups_per_row = 0;
  std::size_t block_bytes = 0;  // Stored per block: the format's, or +1 where that is 3 mod 4.
  std::size_t full_words = 0;
  std::size_t tail_bytes = 0;
  int digits = 0;                   // Codes per stored byte: 4 or 5.
  std::size_t slots_per_group = 0;  // full_words, plus 1 for the tail.
  std::size_t row_bytes = 0;        // block_bytes * blocks_per_row
  std::size_t scale_stride = 0;     // Scales per row, padded with zeros to whole groups.
  // Int8 activations of one token, permuted to match the codes: groups_per_row *
  // slots_per_group * digits * 64 bytes.
  std::size_t activation_bytes = 0;
};

// Per row group of a codebook matrix: the exact entries, and the 7-bit steps the integer
// kernels use: entry k ~= offset + step * steps[k].
struct QuantCodebook {
  float entries[4];
  float offset;
  float step;
  std::uint8_t steps[4];
};

// The kernel-ready form of a low-bit matrix (compress::QuantizedMatrix is its stored form), in
// the layout above, built once at model load: the packed codes and scales (the
// bulk, PackedBytes() of them) in one buffer, owned or the caller's, and small metadata (the
// layout, the codebooks, the activation positions) beside them.
class QuantWeights {
 public:
  // Packs into a buffer of its own (huge pages when large). Requires a view whose arrays hold
  // what its fields say and valid code bytes.
  static QuantWeights Prepare(const QuantMatrixView& view);
  // The packed bytes of `view`'s matrix: kind, rows, cols and block_size decide them.
  static std::size_t PackedBytes(const QuantMatrixView& view);
  // Packs into `memory` (PackedBytes(view) bytes, 64-byte aligned), which the caller owns and
  // keeps alive: a model places a layer's matrices in one allocation with this.
  static QuantWeights PrepareInto(const QuantMatrixView& view, std::uint8_t* memory);
  // Reads the packed bytes from `memory` from now on: a copy of packed_data()'s PackedBytes()
  // bytes at the same alignment (a layer streamed into another buffer), kept alive by the
  // caller. Not while a product reads the weights.
  void Rebind(const std::uint8_t* memory) { data_ = memory; }
  const std::uint8_t* packed_data() const { return data_; }

  QuantWeights() = default;
  // A copy of an owning QuantWeights owns a copy of the bytes; one of a PrepareInto result
  // reads the same memory.
  QuantWeights(const QuantWeights& other);
  QuantWeights& operator=(const QuantWeights& other) { return *this = QuantWeights(other); }
  QuantWeights(QuantWeights&&) = default;  // A moved vector keeps its buffer: data_ stays valid.
  QuantWeights& operator=(QuantWeights&&) = default;

  WeightFormat format() const { return format_; }
  std::size_t rows() const { return rows_; }
  std::size_t cols() const { return cols_; }
  std::size_t block_size() const { return block_size_; }
  // Bytes a full product reads: codes, scales and codebooks.
  std::size_t bytes() const;
  const QuantLayout& layout() const { return layout_; }

  const std::uint8_t* row_codes(std::size_t row) const {
    return data_ + codes_offset_ + row * codes_stride_;
  }
  const std::uint16_t* row_scales(std::size_t row) const {
    return reinterpret_cast<const std::uint16_t*>(data_ + scales_offset_ + row * scales_stride_);
  }
  // Where column c goes in the activation layout (QuantLayout::activation_bytes).
  const std::uint32_t* activation_positions() const { return activation_positions_.data(); }
  // nullptr for the ternary formats.
  const QuantCodebook* row_codebook(std::size_t row) const {
    return codebooks_.empty() ? nullptr : &codebooks_[row / codebook_group_rows_];
  }

 private:
  WeightFormat format_ = WeightFormat::kTernary2Bit;
  std::size_t rows_ = 0;
  std::size_t cols_ = 0;
  std::size_t block_size_ = 0;
  std::size_t codebook_group_rows_ = 0;
  QuantLayout layout_;
  // Codes (row_bytes per row) and scales (scale_stride fp16 values per row) in one buffer,
  // plus 64 bytes that vector loads past the last row may touch. Where a row's scales take
  // at most 4 cache lines, each row holds its scales then its codes, so that a product over
  // consecutive rows reads one stream: a decode step's many short tasks ran 10-25% faster
  // that way than with two streams each (TinyLlama shapes: 1 and 3 lines of scales).
  // Longer scale runs stay a region of their own after the codes: read a group at a time
  // from inside a long row, 7 lines of them (4096x14336 at block 64) halved the speed.
  // data_ is owned_'s buffer (Prepare) or the caller's (PrepareInto, Rebind).
  std::vector<std::uint8_t, HugePageAllocator<std::uint8_t>> owned_;
  const std::uint8_t* data_ = nullptr;
  std::size_t codes_offset_ = 0, codes_stride_ = 0;    // Bytes.
  std::size_t scales_offset_ = 0, scales_stride_ = 0;  // Bytes, even.
  std::vector<QuantCodebook> codebooks_;
  std::vector<std::uint32_t> activation_positions_;
};

// y[t, r] = sum_c x[t, c] * W[r, c] for t < n, r < rows; x is [n, cols], y is [n, rows].
void MatMulQuant(const float* x, std::size_t n, const QuantWeights& w, float* y);
// y[i][t, r] = sum_c x[t, c] * w[i][r, c] for i < count: several matrices that read the
// same input (a layer's q/k/v or gate/up projections). Where they share cols, format and
// block size, the input is packed once and all their rows are split over one pool call;
// otherwise this is count MatMulQuant calls.
void MatMulQuantShared(const float* x, std::size_t n, const QuantWeights* const* w, float* const* y,
                       std::size_t count);

// Explicit variants, for tests and benchmarks; check IsaSupported() first.
void MatMulQuantIsa(CpuIsa isa, const float* x, std::size_t n, const QuantWeights& w, float* y);

// The product of MatMulQuant, y [n, rows], with fp32 activations (see the top of this file);
// MatMulQuantF32Isa is its explicit variant, as MatMulQuantIsa.
void MatMulQuantF32(const float* x, std::size_t n, const QuantWeights& w, float* y);
void MatMulQuantF32Isa(CpuIsa isa, const float* x, std::size_t n, const QuantWeights& w, float* y);

// Row `row` of the weights (exact fp16 codebook entries and scales), cols values.
void DequantizeQuantRow(const QuantWeights& w, std::size_t row, float* out);

}  // namespace ghost::kernels

#endif  // GHOST_KERNELS_CPU_QUANT_MATMUL_H_
