// The packing of block-quantized codes into bytes (weight_format.h says what a code and a
// block are). Every block starts on a byte boundary and takes BytesPerBlock(format,
// block_size) bytes.
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
// Padding codes (past the end of a row, see compress/quantized_matrix.h) are code 0 for
// ternary formats and index 0 for the codebook format.
#ifndef GHOST_ENGINE_FORMATS_PACKING_H_
#define GHOST_ENGINE_FORMATS_PACKING_H_

#include <array>
#include <cstdint>

#include "absl/types/span.h"
#include "engine/formats/weight_format.h"

namespace ghost {

// The table's pack/unpack for `format`. Contract: IsBlockQuantized(format); out / packed hold
// at least BytesPerBlock(format, codes.size()) bytes; ternary codes are in {-1, 0, 1} and
// codebook codes in {0, 1, 2, 3}. Unpacking an invalid byte (see above) gives unspecified
// codes; compress::QuantizedMatrix::Validate() rejects such bytes.
void PackCodes(WeightFormat format, absl::Span<const std::int8_t> codes,
               absl::Span<std::uint8_t> out);
void UnpackCodes(WeightFormat format, absl::Span<const std::uint8_t> packed,
                 absl::Span<std::int8_t> codes);

// The five stored digits t_i (0..2) of a base-3 byte, least significant first; decoders use
// this table instead of dividing. Entries 243..255 are all zero.
using Base3Digits = std::array<std::uint8_t, 5>;
const std::array<Base3Digits, 256>& Base3Table();

}  // namespace ghost

#endif  // GHOST_ENGINE_FORMATS_PACKING_H_
